"""Absolute URLs come from SITE_URL, never from the request's Host.

A Host that ALLOWED_HOSTS lets through (a wildcard entry, a proxy forwarding the client's) must
not reach the sitemap, the feed, robots.txt or a page's canonical URL: search engines and feed
readers would be sent to that origin, and the page cache would keep serving it.
"""

from xml.etree import ElementTree

import pytest

SITE = "https://kb.example.org"
HOSTILE = "attacker.example"


@pytest.fixture
def hostile_host_allowed(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOSTILE]


def get(client, path):
    response = client.get(path, HTTP_HOST=HOSTILE)
    assert response.status_code == 200, path
    body = response.content.decode()
    assert HOSTILE not in body, f"{path} shows the request's Host"
    return body


def test_sitemap_locs_use_site_url_whatever_the_host(client, flagship, hostile_host_allowed):
    root = ElementTree.fromstring(get(client, "/sitemap.xml"))
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert f"{SITE}/questions/deep-learning-vs-cnn/" in locs
    assert f"{SITE}/tags/cnn/" in locs
    assert all(loc.startswith(f"{SITE}/") for loc in locs)


def test_feed_links_and_ids_use_site_url(client, flagship, hostile_host_allowed):
    root = ElementTree.fromstring(get(client, "/feed/"))
    atom = "{http://www.w3.org/2005/Atom}"
    links = [link.get("href") for link in root.iter(f"{atom}link")]
    ids = [element.text for element in root.iter(f"{atom}id")]
    assert f"{SITE}/" in links and f"{SITE}/feed/" in links
    assert f"{SITE}/questions/deep-learning-vs-cnn/" in links
    assert all(url.startswith(f"{SITE}/") for url in links + ids)


def test_feed_about_page_shows_the_site_url_feed_address(client, hostile_host_allowed):
    assert f'<code class="feed-url">{SITE}/feed/</code>' in get(client, "/feed/about/")


def test_robots_and_canonical_urls_use_site_url(client, flagship, hostile_host_allowed):
    assert f"Sitemap: {SITE}/sitemap.xml" in get(client, "/robots.txt")
    page = get(client, "/questions/deep-learning-vs-cnn/")
    assert f'<link rel="canonical" href="{SITE}/questions/deep-learning-vs-cnn/">' in page
    assert f'<meta property="og:url" content="{SITE}/questions/deep-learning-vs-cnn/">' in page
