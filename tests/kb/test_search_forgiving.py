"""Search that forgives: typos, spellings, synonyms, prefixes, code names, ranking, fallback."""

import pytest

from kb.models import Question, Synonym
from kb.search_index import code_identifiers
from kb.search_query import edit_budget, edit_distance
from kb.services import question_reindex
from tests.support.synonyms import seeded_synonyms

pytestmark = pytest.mark.django_db

CONV = "## Receptive field\n\nEach convolutional layer widens the receptive field of the units above it.\n"
NORM = "## Why\n\nBatch normalisation rescales each channel with the running statistics.\n"
AMERICAN = "## Why\n\nLayer normalization is computed per example, not per batch.\n"
POOL = "## Pooling\n\nMax pooling keeps the largest activation in each window.\n"


def _titles(client, query, **params) -> list[str]:
    html = client.get("/search/", {"q": query, **params}).content.decode()
    return [
        part.split(">", 1)[1].split("</a>")[0] for part in html.split('class="question-card__title"><a ')[1:]
    ]


def test_edit_budget_follows_the_rule_of_thumb():
    assert [edit_budget("x" * n) for n in (3, 4, 5, 7, 8, 9, 13)] == [0, 1, 1, 1, 2, 2, 2]
    assert edit_distance("convolutonal", "convolutional", 2) == 1
    assert edit_distance("recepetive", "receptive", 2) == 1
    assert edit_distance("fiedl", "field", 1) == 1  # a swap is one typo
    assert edit_distance("pooling", "polling", 1) == 1 and edit_distance("abcd", "wxyz", 1) == 2


def test_typos_are_corrected_against_the_vocabulary_with_a_way_back(client, make_question):
    make_question(title="What a convolution sees", body=CONV)
    make_question(title="Max pooling", body=POOL)
    html = client.get("/search/", {"q": "convolutonal recepetive feild"}).content.decode()
    assert "1 result " in html and "What a convolution sees" in html
    assert "Showing results for" in html and "<em>convolutional receptive field</em>" in html
    assert 'Search instead for <a href="/search/?q=convolutonal%20recepetive%20feild&amp;exact=1">' in html
    # The way back searches exactly what was typed: nothing is corrected, nothing found.
    exact = client.get("/search/", {"q": "convolutonal recepetive feild", "exact": "1"}).content.decode()
    assert "0 results" in exact and "Showing results for" not in exact
    # Words of three letters take no typo; "wndow" (5) takes one, "wnidwo" (6) is two away.
    assert _titles(client, "poling") == ["Max pooling"]
    assert _titles(client, "wnidwo") == []


def test_a_correct_word_is_never_corrected(client, make_question):
    make_question(title="Pooling", body=POOL)
    make_question(title="Polling a queue", body="## Polling\n\nAsk again every second.\n")
    html = client.get("/search/", {"q": "polling"}).content.decode()
    assert "Polling a queue" in html and "Showing results for" not in html


def test_british_and_american_spellings_find_each_other(client, make_question):
    make_question(title="Batch statistics", body=NORM)
    make_question(title="Per-example statistics", body=AMERICAN)
    assert set(_titles(client, "normalization")) == {"Batch statistics", "Per-example statistics"}
    assert set(_titles(client, "normalisation")) == {"Batch statistics", "Per-example statistics"}


def test_synonyms_apply_both_ways_and_staff_edits_apply_at_once(client, make_question):
    seeded_synonyms()  # an earlier transactional test may have flushed the migration's rows
    make_question(title="Convolutional neural networks", body=CONV)
    make_question(title="Deep learning in one page", body=POOL)
    make_question(title="Why BN speeds up training", body=POOL)
    assert _titles(client, "CNN") == ["Convolutional neural networks"]  # seeded by the migration
    assert _titles(client, "dl") == ["Deep learning in one page"]
    assert _titles(client, "batch normalization") == ["Why BN speeds up training"]
    assert _titles(client, "kernel soup") == []
    soup = Synonym.objects.create(terms="kernel soup, max pooling")
    assert set(_titles(client, "kernel soup")) == {"Deep learning in one page", "Why BN speeds up training"}
    # Each process keeps the table; an edit or a deletion is searched with at once all the same.
    soup.terms = "kernel soup, receptive field"
    soup.save()
    assert _titles(client, "kernel soup") == ["Convolutional neural networks"]
    soup.delete()
    assert _titles(client, "kernel soup") == []


def test_the_last_word_is_a_prefix(client, make_question):
    make_question(title="What a convolution sees", body=CONV)
    make_question(title="Max pooling", body=POOL)
    assert _titles(client, "recep") == ["What a convolution sees"]
    assert _titles(client, "max pool") == ["Max pooling"]
    # Only the last word is a prefix: "recep" is not a word, so no article has both.
    assert "No article has all of these words" in client.get("/search/", {"q": "recep max"}).content.decode()


def test_identifiers_are_split_on_dots_underscores_and_case():
    terms = code_identifiers("bn = nn.BatchNorm2d(64)\nmodel.eval()\nprint(bn.running_mean)\n")
    for term in [
        "nn.batchnorm2d",
        "batchnorm2d",
        "batchnorm",
        "batch",
        "norm",
        "running_mean",
        "running",
        "mean",
        "model.eval",
        "eval",
        "bn.running_mean",
    ]:
        assert term in terms
    assert "print" not in terms and "import" not in code_identifiers("import math")


def test_code_names_find_the_answers_that_use_them(client, make_question):
    question = make_question(title="Freezing statistics at inference", body=POOL)
    make_question(title="Batch sizes", body="## Batch\n\nA bigger batch gives smoother norms.\n")
    code = (
        "import torch\nbn = torch.nn.BatchNorm2d(8)\nmodel = torch.nn.Sequential(bn)\n"
        "model.eval()\nbn.running_mean\n"
    )
    question_reindex(question=question, document=question.search_document, code=code)
    for query in ["nn.BatchNorm2d", "BatchNorm2d", "batchnorm", "batchn", "running_mean", "model.eval()"]:
        assert _titles(client, query)[:1] == ["Freezing statistics at inference"], query


def test_ranking_is_title_then_summary_then_prose_then_code(client, make_question):
    make_question(title="In the prose", summary="Nothing here.", body="## A\n\nWe apply dropout here.\n")
    make_question(title="In the summary", summary="About dropout.", body=POOL)
    make_question(title="Dropout in the title", summary="Nothing here.", body=POOL)
    in_code = make_question(title="In the code", summary="Nothing here.", body=POOL)
    question_reindex(question=in_code, document=in_code.search_document, code="layer = Dropout(0.5)")
    assert _titles(client, "dropout") == [
        "Dropout in the title",
        "In the summary",
        "In the prose",
        "In the code",
    ]


def test_when_no_article_has_every_word_those_with_most_of_them_are_shown(client, make_question):
    make_question(title="Max pooling", body=POOL)
    make_question(title="Largest activation window", body=POOL)
    html = client.get("/search/", {"q": "pooling largest quaternion"}).content.decode()
    assert "No article has all of these words" in html
    assert _titles(client, "pooling largest quaternion")[:1] == ["Largest activation window"]
    assert "No article has all" not in client.get("/search/", {"q": "pooling largest"}).content.decode()


def test_suggestions_are_published_titles_for_the_words_typed_so_far(client, make_question):
    for n in range(10):
        make_question(title=f"Pooling note {n}", body=POOL)
    make_question(title="Pooling draft nobody may see", body=POOL, published=False)
    response = client.get("/search/suggestions/", {"q": "poolin"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    titles = [s["title"] for s in response.json()["suggestions"]]
    assert len(titles) == 8 and all(t.startswith("Pooling note") for t in titles)
    assert response.json()["suggestions"][0]["url"].startswith("/questions/pooling-note-")
    assert client.get("/search/suggestions/", {"q": "draft nobody"}).json() == {"suggestions": []}
    assert client.get("/search/suggestions/", {"q": "p"}).json() == {"suggestions": []}
    assert client.get("/search/suggestions/", {"q": "<script>" * 100}).status_code == 200
    assert client.post("/search/suggestions/", {"q": "pool"}).status_code == 405


def test_hostile_queries_keep_working_with_every_feature(client, make_question):
    make_question(title="Pooling", body=POOL)
    for query in ["'\\", "a.b.c.d.e.f.g.h" * 20, "-", '"', "OR OR", "x_" * 120, "naïve poolïng", ":* & | !"]:
        assert client.get("/search/", {"q": query}).status_code == 200, query
        assert client.get("/search/suggestions/", {"q": query}).status_code == 200, query
    assert _titles(client, "poolïng") == ["Pooling"]
    assert Question.objects.count() == 1


@pytest.mark.parametrize("others", [10, 40], ids=["few-listed", "many-open-ended"])
def test_a_word_typed_so_far_finds_the_rarest_word_it_begins(client, make_question, others):
    """Few words begun: each is matched by name; many: as a prefix. Either way the rarest."""
    common = " ".join(f"zeta{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(others))
    for n in range(2):  # in two articles each: more used than the rare word
        make_question(title=f"Common {n}", body=f"## Words\n\n{common}.\n")
    make_question(title="Rare", body="## Word\n\nOnly here: zetazzz.\n")
    assert "Rare" in _titles(client, "zeta")
    assert _titles(client, "zetaz") == ["Rare"]
