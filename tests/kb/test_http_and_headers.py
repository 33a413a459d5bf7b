"""Every public GET URL answers HEAD; the feed's summary is typed text; every response carries
a Content-Security-Policy and a Permissions-Policy."""

import re
from xml.etree import ElementTree

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from config.inline_script import THEME_SCRIPT_CSP, csp_hash

pytestmark = pytest.mark.django_db

NOT_PUBLIC = ("admin", "media", "static")


def _named_patterns(resolver=None, namespace=""):
    """(view name, URL parameter names) of every named URL outside the admin."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).strip("^/").startswith(NOT_PUBLIC):
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry, inner)
        elif isinstance(entry, URLPattern):
            if str(entry.pattern).strip("^/").startswith(NOT_PUBLIC):
                continue
            assert entry.name, f"unnamed public URL {entry.pattern}: name it so this walk covers it"
            yield f"{namespace}{entry.name}", list(entry.pattern.converters)


@pytest.fixture
def public_urls(make_question):
    question = make_question(title="Kernel sizes", slug="kernel-sizes", summary="3 < 5 & <b>bold</b>")
    tag = question.tags.first()
    urls = []
    for name, params in _named_patterns():
        kwargs = {}
        for param in params:
            if param == "slug":
                kwargs["slug"] = tag.slug if "tag" in name else question.slug
            else:
                kwargs[param] = 999_999  # no such object: GET and HEAD must agree on the 404
        urls.append(reverse(name, kwargs=kwargs))
    return urls


def test_every_public_get_url_also_answers_head(client, public_urls):
    checked = []
    for url in public_urls + ["/search/?q=kernel"]:
        get = client.get(url)
        if get.status_code == 405:  # POST-only (run again): nothing to read
            continue
        head = client.head(url)
        assert head.status_code == get.status_code, f"HEAD {url}: {head.status_code}, GET {get.status_code}"
        assert head.content == b""
        checked.append((url, head.status_code))
    ok = {url for url, status in checked if status == 200}
    for url in ["/", "/questions/kernel-sizes/", "/search/?q=kernel", "/healthz", "/robots.txt", "/demo/",
                "/feed/", "/sitemap.xml", "/privacy/", "/consent/"]:  # fmt: skip
        assert url in ok, (url, checked)


def test_the_feed_summary_is_plain_text_and_escaped(client, make_question):
    make_question(title="Kernel sizes", slug="kernel-sizes", summary="3 < 5 & <b>bold</b>")
    feed = client.get("/feed/")
    assert b"<b>bold" not in feed.content
    atom = "{http://www.w3.org/2005/Atom}"
    summary = ElementTree.fromstring(feed.content).find(f"{atom}entry/{atom}summary")
    assert summary.get("type") == "text" and summary.text == "3 < 5 & <b>bold</b>"


@pytest.mark.parametrize("url", ["/", "/demo/", "/healthz", "/admin/login/", "/feed/"])
def test_every_response_has_a_strict_csp_and_a_permissions_policy(client, url):
    response = client.get(url)
    csp = {part.split()[0]: part.split()[1:] for part in response["Content-Security-Policy"].split(";")}
    # The one inline script (the theme choice, before the first paint) by its hash.
    assert csp["script-src"] == ["'self'", THEME_SCRIPT_CSP] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert "camera=()" in response["Permissions-Policy"]


def test_the_only_inline_script_a_page_runs_is_the_one_the_policy_allows_by_its_hash(client):
    html = client.get("/").content.decode()
    # JSON-LD is data, not run; every other <script> without src must match a hash in script-src.
    inline = [
        body
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in attributes and "application/ld+json" not in attributes
    ]
    assert len(inline) == 1 and "localStorage" in inline[0]
    assert csp_hash(inline[0]) == THEME_SCRIPT_CSP
