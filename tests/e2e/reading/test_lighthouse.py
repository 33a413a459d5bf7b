"""Lighthouse 12 (npm lighthouse@12.2.3, Debian's Chromium) gives 100 in accessibility, best
practices and SEO, and at least 95 in performance, to the home page and the flagship, with the
mobile and the desktop presets. The four audits run in
one test against one live server; the test prints how long each took."""

import json
import os
import subprocess
import time

import pytest

from tests.e2e.conftest import CHROMIUM_ARGS, ROOT

pytestmark = pytest.mark.django_db

LIGHTHOUSE = ROOT / "tests" / "e2e" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
# The flagship on the mobile preset once scored 99: its first paint on the simulated slow 4G
# (1.38 s) waited for 56 KB of HTML and for four render-blocking requests. The HTML is now
# 38 KB (answers/rendering.py writes no span for tokens in the text colour) and one
# stylesheet is the only request before the first paint (config/inline_script.py): ~1.0 s.
LANTERN_PAINTS = ("first-contentful-paint", "largest-contentful-paint")
# Accessibility, best practices and SEO are checked at 100: they do not depend on the machine.
# Performance is timed here, under simulated throttling, on a 2-core machine: a point or two
# moves with whatever else runs (the mobile total blocking time of the same page read 0.89 to
# 1.0 within minutes), so below 95 fails and the score is printed either way.
PERFORMANCE_FLOOR = 95


def _audit(url: str, preset: str, report) -> dict:
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={report}",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": "/usr/bin/chromium"}
    try:
        subprocess.run(command, check=True, env=env, timeout=240, capture_output=True)
    except subprocess.CalledProcessError as error:
        # Lighthouse's own runtime errors on a busy machine (NO_NAVSTART, "run Lighthouse
        # again"): one more try, as its message says.
        if b"Please run Lighthouse again" not in error.stderr:
            raise
        subprocess.run(command, check=True, env=env, timeout=240, capture_output=True)
    return json.loads(report.read_text())


def _shortfalls(result: dict) -> list[str]:
    shortfalls = []
    for category in CATEGORIES:
        score = round(result["categories"][category]["score"] * 100)
        if category == "performance":
            print(f"Lighthouse performance {score}")
        if score < (PERFORMANCE_FLOOR if category == "performance" else 100):
            print(f"Lighthouse {category} {score}")
            failing = [
                f"{audit['id']} ({audit['score']})"
                for ref in result["categories"][category]["auditRefs"]
                if ref["weight"] > 0
                and (audit := result["audits"][ref["id"]])["score"] is not None
                and audit["score"] < 1
            ]
            if category == "performance":
                paints = [f"{m} {round(result['audits'][m]['numericValue'])} ms" for m in LANTERN_PAINTS]
                failing.append(f"({', '.join(paints)})")
            shortfalls.append(f"{category} {score}: {', '.join(failing)}")
    return shortfalls


def test_home_and_flagship_score_100_on_mobile_and_desktop(seeded_all, artifacts_dir):
    assert LIGHTHOUSE.exists(), "run `npm ci` in tests/e2e (bin/test does it)"
    failures, timings = [], []
    for name, path in (("home", "/"), ("flagship", "/questions/deep-learning-vs-cnn/")):
        for preset in ("mobile", "desktop"):
            report = artifacts_dir / f"lighthouse-{name}-{preset}.json"
            started = time.monotonic()
            shortfalls = _shortfalls(_audit(seeded_all + path, preset, report))
            if shortfalls and all(line.startswith("performance") for line in shortfalls):
                # Performance is timed on this machine, and a busy machine (other test runs)
                # can cost a point; Lighthouse's docs advise repeating a run. One more try; a
                # page that is slow for a reason of its own fails both.
                print(f"Lighthouse {name}/{preset}, first try: {shortfalls}")
                shortfalls = _shortfalls(_audit(seeded_all + path, preset, report))
            timings.append(f"{name}/{preset} {time.monotonic() - started:.1f} s")
            failures += [f"{name}/{preset} {line}" for line in shortfalls]
    print("Lighthouse timings:", "; ".join(timings))
    assert failures == [], "\n".join(failures)
