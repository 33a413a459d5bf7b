"""The public pages every reader-facing check visits (vnu, axe-core, screenshots, keyboard)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

from django.core.cache import cache

from tests.e2e.conftest import seeded_slugs


def public_pages() -> list[tuple[str, str]]:
    """(name, path) of every public page to check, the seeded articles included."""
    pages = [
        ("home", "/"),
        ("question-index", "/questions/?sort=title&tag=cnn"),
        ("search", "/search/?q=convolution"),
        ("tags", "/tags/"),
        ("tag", "/tags/cnn/"),
        ("demo", "/demo/"),
        ("privacy", "/privacy/"),
        ("feed-about", "/feed/about/"),
    ]
    pages += [(f"article-{slug}", f"/questions/{slug}/") for slug in seeded_slugs()]
    return pages


def fetch_sources(base: str) -> dict[str, str]:
    """The HTML source of every public page, plus the demo form as sent back with errors."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    sources = {}
    for name, path in public_pages():
        with opener.open(base + path) as response:
            assert response.status == 200, (name, response.status)
            sources[name] = response.read().decode()
    cache.clear()  # the demo form's per-client rate limit: this is not a flood
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', sources["demo"]).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": "not an address"}).encode()
    request = urllib.request.Request(base + "/demo/", data=data, headers={"Referer": base + "/demo/"})  # noqa: S310
    try:
        opener.open(request)
    except urllib.error.HTTPError as error:  # the form comes back with its errors as a 400
        assert error.code == 400
        sources["demo-errors"] = error.read().decode()
    assert "There is a problem" in sources["demo-errors"]
    return sources
