import json
import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from kb.models import Question
from runner.models import Worker

pytestmark = pytest.mark.django_db


def test_list_shows_published_questions_newest_first_with_tags_and_summaries(client, make_question):
    now = timezone.now()
    make_question(title="Older question", summary="Old summary.", published_at=now - timedelta(days=2))
    make_question(title="Newer question", summary="New summary.", published_at=now - timedelta(days=1))
    make_question(title="Draft question", published=False)
    html = client.get("/").content.decode()
    assert html.index("Newer question") < html.index("Older question")
    assert "Draft question" not in html
    assert "New summary." in html and 'href="/tags/cnn/"' in html


def test_list_is_paginated(client, make_question):
    for i in range(23):
        make_question(title=f"Question {i:02d}", published_at=timezone.now() - timedelta(minutes=i))
    first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()
    assert "Question 00" in first and "Question 22" not in first
    assert "Question 22" in second and "Page 2 of 2" in second


def test_article_page_shows_answer_toc_tags_related_and_call_to_action(client, flagship, make_question):
    make_question(title="Pooling layers", tags=("cnn",))
    make_question(title="Unrelated", tags=("statistics",))
    response = client.get("/questions/deep-learning-vs-cnn/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 id="question-title">How are deep learning' in html
    assert 'href="#weight-sharing"' in html  # table of contents
    assert "448 parameters" in html
    assert "Related questions" in html and "Pooling layers" in html and "Unrelated" not in html
    assert "Request a demo" in html
    assert "Last updated" in html


def test_article_page_has_canonical_opengraph_and_techarticle_json_ld(client, flagship, settings):
    html = client.get("/questions/deep-learning-vs-cnn/").content.decode()
    url = f"{settings.SITE_URL}/questions/deep-learning-vs-cnn/"
    assert f'<link rel="canonical" href="{url}">' in html
    assert '<meta property="og:type" content="article">' in html
    blocks = [
        json.loads(b) for b in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]
    types = {b["@type"] for b in blocks}
    assert types == {"TechArticle", "BreadcrumbList"}
    assert "QAPage" not in html
    article = next(b for b in blocks if b["@type"] == "TechArticle")
    assert article["headline"] == flagship.title and article["url"] == url


def test_an_answer_whose_cells_have_not_verified_is_not_shown_to_readers(client, make_question):
    body = "## Result\n\n```python run\n1 + 1\n```\n\n```output\n2\n```\n"
    make_question(title="Pending", slug="pending", body=body)
    html = client.get("/questions/pending/").content.decode()
    assert "being verified" in html
    assert "1 + 1" not in html and "Expected output" not in html


def test_json_ld_cannot_be_closed_by_a_title(client, make_question):
    make_question(title="Bad </script><script>alert(1)</script>", slug="bad-title")
    html = client.get("/questions/bad-title/").content.decode()
    assert "<script>alert(1)" not in html


def test_article_page_needs_few_queries(client, flagship, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        client.get("/questions/deep-learning-vs-cnn/")


def test_unknown_and_draft_questions_give_the_404_page(client, make_question):
    make_question(title="Secret draft", slug="secret-draft", published=False)
    for path in ("/questions/no-such-thing/", "/questions/secret-draft/", "/tags/no-such-tag/"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Page not found" in response.content.decode()


def test_tag_page_lists_its_questions(client, make_question):
    make_question(title="Pooling layers", tags=("pooling",))
    make_question(title="Statistics", tags=("statistics",))
    html = client.get("/tags/pooling/").content.decode()
    assert "Questions tagged “pooling”" in html and "Pooling layers" in html and "Statistics" not in html


def test_atom_feed_lists_published_questions(client, flagship):
    response = client.get("/feed/")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.text for e in root.findall("a:entry/a:title", ns)] == [flagship.title]


def test_sitemap_has_questions_with_real_lastmod(client, flagship):
    Question.objects.filter(pk=flagship.pk).update(updated_at=timezone.now() - timedelta(days=10))
    root = ElementTree.fromstring(client.get("/sitemap.xml").content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    entries = {u.find("s:loc", ns).text: u.find("s:lastmod", ns) for u in root.findall("s:url", ns)}
    question_url = next(loc for loc in entries if loc.endswith("/questions/deep-learning-vs-cnn/"))
    expected = (timezone.now() - timedelta(days=10)).date().isoformat()
    assert entries[question_url].text == expected


def test_robots_txt_points_to_the_sitemap(client, settings):
    body = client.get("/robots.txt").content.decode()
    assert f"Sitemap: {settings.SITE_URL}/sitemap.xml" in body and "Disallow: /admin/" in body


def test_privacy_page(client):
    assert "Privacy" in client.get("/privacy/").content.decode()


def test_privacy_contact_defaults_to_the_sites_from_address(client, settings):
    assert settings.PRIVACY_CONTACT_EMAIL == settings.DEFAULT_FROM_EMAIL  # not set in the environment
    html = client.get("/privacy/").content.decode()
    assert f'href="mailto:{settings.DEFAULT_FROM_EMAIL}"' in html and "company page" not in html


def test_readiness_reports_database_broker_and_an_empty_worker_pool(client):
    # A worker started by an earlier test of the session may still beat into the table.
    Worker.objects.all().delete()
    health = client.get("/healthz/ready")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "checks": {"database": True, "broker": True, "workers": {"live": 0, "cpu": 0, "gpu": 0}},
    }


def test_readiness_is_503_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    health = client.get("/healthz/ready")
    assert health.status_code == 503 and health.json()["checks"]["broker"] is False


def test_500_page_renders_without_a_request_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()


def test_static_files_are_served_by_the_site_no_cdn(client, flagship):
    html = client.get("/questions/deep-learning-vs-cnn/").content.decode()
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    assert all(url.startswith("http://127.0.0.1") or "schema.org" in url for url in external), external
