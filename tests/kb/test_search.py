import re

import pytest

from kb.models import Question
from kb.search import _excerpt, _fallback_search, search_questions

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
    [result] = search_questions(Question.objects.published(), "pooling").page
    assert "<script>" not in result.highlighted and "script&gt;" in result.highlighted
    assert "<mark>pooling</mark>" in result.highlighted


def test_sqlite_fallback_finds_ranks_and_highlights(make_question):
    # The fallback is plain LIKE queries, so it runs the same on PostgreSQL.
    make_question(title="Batch norm", body="It mentions pooling once.\n")
    make_question(title="Pooling explained", body=POOLING)
    results, fallback = _fallback_search(Question.objects.published(), "pooling")
    assert not fallback
    assert [q.title for q in results] == ["Pooling explained", "Batch norm"]
    assert "\x02pooling\x03" in _excerpt(results[0].search_document, ["pooling"]).lower()
    assert _fallback_search(Question.objects.published(), "!!!") == ([], False)


# Search shows what readers see, nothing of a revision that did not publish.
# An unknown cell option is an authoring error: the revision cannot verify, so it is not published.
FAILING_REVISION = POOLING + "\n```python run colour=red\nprint('zanzibar')\n```\n\nZanzibarian prose.\n"


def test_a_failing_revision_is_neither_found_nor_excerpted(client, make_question):
    from answers.models import Answer
    from answers.services import answer_save

    question = make_question(title="Pooling", body=POOLING)
    answer = answer_save(question=question, body=FAILING_REVISION)
    assert answer.authoring_errors and answer.published_html != answer.rendered_html  # not published
    page = client.get(f"/questions/{question.slug}/").content.decode()
    assert "Zanzibarian" not in page
    html = client.get("/search/?q=zanzibarian").content.decode()
    assert "0 results" in html and "Zanzibarian" not in html and "Pooling" not in html
    # The published revision's words are still found, with an excerpt of the published prose.
    html = client.get("/search/?q=largest").content.decode()
    assert "1 result " in html and "<mark>largest</mark>" in html and "Zanzibarian" not in html
    # Publishing the revision (here: staff override) makes its text searchable at once.
    question.allow_unverified = True
    question.save(update_fields=["allow_unverified"])
    from answers.services import answer_publish_override

    answer_publish_override(answer=Answer.objects.get(pk=answer.pk))
    assert "<mark>Zanzibarian</mark>" in client.get("/search/?q=zanzibarian").content.decode()


# Excerpts never start or end inside a word.
LONG_PROSE = " ".join(
    ["Deep networks stack layers of units, and multilayer perceptrons were the first of them."] * 12
    + ["A convolution slides one small kernel over the image, so the gradient flows to shared weights."]
    + ["Training needs many examples and patience, whatever the architecture is called."] * 12
)


def _whole_words(excerpt: str, document: str) -> None:
    text = str(excerpt).replace("<mark>", "").replace("</mark>", "").strip("…")
    words = set(re.findall(r"\w+", document))
    first, last = re.findall(r"\w+", text)[0], re.findall(r"\w+", text)[-1]
    assert first in words, f"starts mid-word: {text[:40]!r}"
    assert last in words, f"ends mid-word: {text[-40:]!r}"


def test_fallback_excerpts_start_and_end_between_words():
    for word in ["convolution", "perceptrons", "patience", "architecture"]:
        excerpt = _excerpt(LONG_PROSE, [word])
        _whole_words(excerpt.replace("\x02", "").replace("\x03", ""), LONG_PROSE)
    assert not _excerpt("perceptrons are old", ["perceptrons"]).startswith("…")


def test_search_page_excerpts_are_whole_words(client, make_question):
    make_question(title="Stacks", body=f"## Layers\n\n{LONG_PROSE}\n")
    html = client.get("/search/?q=convolution").content.decode()
    excerpt = html.split('class="question-card__excerpt">')[1].split("</p>")[0]
    assert "<mark>convolution</mark>" in excerpt
    _whole_words(excerpt, LONG_PROSE)


def test_results_are_paginated_and_the_links_keep_the_query(client, make_question):
    for n in range(23):
        make_question(title=f"Pooling note {n}", body=POOLING)
    first = client.get("/search/?q=pooling").content.decode()
    assert "23 results" in first and first.count('class="question-card"') == 20
    assert "Page 1 of 2" in first and 'href="?q=pooling&amp;page=2"' in first
    second = client.get("/search/?q=pooling&page=2").content.decode()
    assert second.count('class="question-card"') == 3 and "<mark>" in second


def test_only_the_newest_matches_are_ranked_and_the_page_says_so(client, make_question, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr("kb.search.MAX_RANKED", 3)
    now = timezone.now()
    for n in range(5):
        make_question(title=f"Pooling {n}", body=POOLING, published_at=now - timedelta(days=n))
    html = client.get("/search/?q=pooling").content.decode()
    assert "5 results" in html and "the newest 3 are shown" in html
    assert html.count('class="question-card"') == 3 and "Pooling 4" not in html


@pytest.mark.parametrize("many_estimated", [0, 5000], ids=["estimated-many", "counted"])
def test_matches_are_counted_up_to_a_cap_and_the_newest_still_ranked(
    client, make_question, monkeypatch, many_estimated
):
    """Past the cap the count stops (or is not even started when the planner expects many
    matches), and the newest matches are still the ones ranked."""
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr("kb.search.MAX_RANKED", 3)
    monkeypatch.setattr("kb.search.MAX_COUNTED", 4)
    monkeypatch.setattr("kb.search.MANY_ESTIMATED", many_estimated)
    now = timezone.now()
    for n in (3, 4, 0, 2, 1):  # stored in another order than published
        make_question(title=f"Note {n}", body=POOLING, published_at=now - timedelta(days=n))
    html = client.get("/search/?q=pooling").content.decode()
    assert "More than 4 results" in html and "the newest 3 are shown" in html
    assert [f"Note {n}" in html for n in range(5)] == [True, True, True, False, False]
    few = client.get("/search/?q=pooling+-note").content.decode()
    assert "0 results" in few


def test_result_cards_show_their_tags_in_name_order_in_few_statements(client, make_question):
    """The page's questions come with their tags in one statement: no query per result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_question(title="Max pooling", body=POOLING, tags=("pytorch", "cnn", "pooling layers"))
    make_question(title="Average pooling", body="Average pooling takes the mean.\n", tags=())
    for n in range(5):
        make_question(title=f"Pooling note {n}", body=POOLING, tags=(f"tag{n}",))
    client.get("/search/?q=pooling")  # the synonym table and the query's texts are now kept
    with CaptureQueriesContext(connection) as captured:  # another address: not the cached page
        html = client.get("/search/?q=Pooling").content.decode()
    statements = [q["sql"] for q in captured.captured_queries]  # before the next request resets them
    card = html.split('class="question-card"')[1:]
    max_pooling = next(c for c in card if ">Max pooling</a>" in c)
    tags = re.findall(r'<a class="tag" href="(/tags/[^"]+/)">([^<]+)</a>', max_pooling)
    assert [name for _, name in tags] == ["cnn", "pooling layers", "pytorch"]
    assert [client.get(url).status_code for url, _ in tags] == [200, 200, 200]
    assert 'class="tag"' not in next(c for c in card if ">Average pooling</a>" in c)
    assert sum(f'<a class="tag" href="/tags/tag{n}/">tag{n}</a>' in html for n in range(5)) == 5
    # the vocabulary, the ranked matches, the page with its tags (the search report's are writes)
    reads = [sql for sql in statements if re.search(r"kb_(question|tag|searchlexeme)", sql)]
    assert len(reads) == 3, [sql[:80] for sql in statements]
