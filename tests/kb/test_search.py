import pytest

from kb.models import Question
from kb.search import _fallback_search, search_questions

pytestmark = pytest.mark.django_db

POOLING = "## Pooling\n\nMax pooling keeps the largest activation in each window of the feature map.\n"


def test_search_ranks_title_matches_above_body_matches(client, make_question):
    make_question(title="Why batch normalisation helps", body="It mentions pooling once.\n")
    make_question(title="What pooling does to a feature map", body=POOLING)
    html = client.get("/search/?q=pooling").content.decode()
    assert "2 results" in html
    assert html.index("What pooling does") < html.index("Why batch normalisation")


def test_search_highlights_matches_in_an_excerpt(client, make_question):
    make_question(title="Pooling", body=POOLING)
    html = client.get("/search/?q=largest").content.decode()
    assert "<mark>largest</mark>" in html


def test_websearch_syntax_excludes_words(client, make_question):
    make_question(title="Max pooling", body=POOLING)
    make_question(title="Average pooling", body="Average pooling takes the mean.\n")
    html = client.get("/search/", {"q": "pooling -mean"}).content.decode()
    assert "Max pooling" in html and "Average pooling" not in html


def test_drafts_are_not_found(client, make_question):
    make_question(title="Secret pooling draft", body=POOLING, published=False)
    assert "Secret pooling draft" not in client.get("/search/?q=pooling").content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "x" * 5000,
        "'; DROP TABLE kb_question; --",
        "<script>alert(1)</script>",
        "pooling\x00 nul",
        '"unbalanced quote',
        "!!! ::: &&& |||",
    ],
)
def test_hostile_queries_return_a_normal_page_with_the_text_escaped(client, make_question, query):
    make_question(title="Pooling", body=POOLING)
    response = client.get("/search/", {"q": query})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert Question.objects.filter(title="Pooling").exists()
    if query.startswith("<script>"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_excerpt_escapes_document_text_that_looks_like_html(make_question):
    make_question(title="Escaping", body="Never trust `<script>` tags in pooling output.\n")
    [result] = search_questions(Question.objects.published(), "pooling")
    assert "<script>" not in result.highlighted and "script&gt;" in result.highlighted
    assert "<mark>pooling</mark>" in result.highlighted


def test_sqlite_fallback_finds_ranks_and_highlights(make_question):
    # The fallback is plain LIKE queries, so it runs the same on PostgreSQL.
    make_question(title="Batch norm", body="It mentions pooling once.\n")
    make_question(title="Pooling explained", body=POOLING)
    results = _fallback_search(Question.objects.published(), "pooling")
    assert [q.title for q in results] == ["Pooling explained", "Batch norm"]
    assert "\x02pooling\x03" in results[0].headline.lower()
    assert _fallback_search(Question.objects.published(), "!!!") == []
