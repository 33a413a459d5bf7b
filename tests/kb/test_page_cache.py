"""The page cache: cheap for every reader, nothing shared that is one reader's own.

Real requests through Django's test client against the real Redis cache of the test run
(bin/test's REDIS_URL). Tests of staleness across processes are in test_page_cache_processes.py.
"""

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
ARTICLE = "/questions/deep-learning-vs-cnn/"


def _reader(choice: str | None, *, enforce_csrf: bool = False) -> Client:
    """A: accepts analytics, B: rejects, C: has not chosen."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    if choice is not None:
        client.get("/privacy/")
        token = client.cookies["csrftoken"].value
        response = client.post("/consent/", {"action": choice, "next": "/", "csrfmiddlewaretoken": token})
        assert response.status_code == 302
    return client


def _secrets(html: str) -> set[str]:
    return {_unmask_cipher_token(token) for token in TOKEN.findall(html)}


def _without_tokens(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="…"', html)


@pytest.mark.parametrize(
    "path",
    [ARTICLE, "/", "/tags/cnn/", "/feed/", "/sitemap.xml", "/?page=1"]
    + ["/questions/", "/questions/?tag=cnn&sort=title", "/tags/"],
)
def test_pages_cost_no_query_from_the_cache_and_at_most_three_otherwise(
    flagship, make_question, path, django_assert_max_num_queries, django_assert_num_queries
):
    make_question(title="Pooling and strides", tags=("cnn",))
    client = Client()
    with django_assert_max_num_queries(3):
        first = client.get(path)
    with django_assert_num_queries(0):
        second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert _without_tokens(first.content.decode()) == _without_tokens(second.content.decode())


def test_the_question_index_counts_what_it_lists_without_a_count_query(flagship, make_question):
    make_question(title="Pooling and strides", tags=("cnn",))
    make_question(title="Attention", tags=("transformers",))
    make_question(title="Unpublished draft", tags=("cnn",), published=False)
    everything = Client().get("/questions/").content.decode()
    assert "3 questions, newest first." in everything
    tagged = Client().get("/questions/?tag=cnn&sort=title").content.decode()
    flagship_tags_cnn = "cnn" in [tag.slug for tag in flagship.tags.all()]
    assert f"{1 + flagship_tags_cnn} question" in tagged and "tagged “cnn”, by title." in tagged
    assert "Unpublished draft" not in everything + tagged


def test_search_stays_live_in_a_fixed_number_of_queries_whatever_the_number_of_results(
    flagship, make_question, django_assert_max_num_queries
):
    def statements_for(query: str) -> tuple[list[str], str]:
        client.get(f"/search/?q={query}")
        with django_assert_max_num_queries(7) as queries:
            response = client.get(f"/search/?q={query}")
        return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]], response

    client = Client()
    for n in range(3):
        make_question(title=f"Kernels {n}")
    few, response = statements_for("kernels")
    assert response.content.decode().count("<mark>Kernels</mark>") >= 4
    for n in range(3, 15):
        make_question(title=f"Kernels {n}")
    many, _ = statements_for("kernels")
    # The vocabulary (prefix completions and the typo check), the query's terms, the ranked
    # matches with their count (one round trip), the page's rows, their tags, and the search
    # report's counter: the same statements for 4 results as for 16. The synonyms are kept
    # in-process until one is saved (kb.search_synonyms).
    assert len(few) == len(many) <= 7


@pytest.mark.parametrize("choice", ["accept_all", "reject_all", None])
def test_a_cached_page_is_byte_for_byte_the_page_rendered_for_that_reader(flagship, settings, choice):
    reader = _reader(choice)
    cached = [reader.get(ARTICLE).content.decode() for _ in range(2)][1]
    settings.CACHES = {**settings.CACHES, "pages": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    live = reader.get(ARTICLE).content.decode()
    # The forms' tokens are masked afresh on every response (BREACH): same secret, other bytes.
    assert _without_tokens(cached) == _without_tokens(live)
    assert len(_secrets(cached)) == 1 and _secrets(cached) == _secrets(live)
    assert _secrets(cached) == {reader.cookies["csrftoken"].value}


def test_each_reader_gets_their_own_banner_and_csrf_token_from_one_cached_page(flagship):
    pages = {}
    for choice in ["accept_all", "reject_all", None, None]:
        reader = _reader(choice)
        reader.get(ARTICLE)
        html = reader.get(ARTICLE).content.decode()  # from the cache now
        assert _secrets(html) == {reader.cookies["csrftoken"].value}
        pages.setdefault(choice, []).append(html)
    banner = "data-consent-banner hidden>"
    assert banner in pages["accept_all"][0] and banner in pages["reject_all"][0]
    assert banner not in pages[None][0] and "data-consent-banner>" in pages[None][0]
    analytics_checked = re.compile(r'name="analytics" value="1"[^>]*checked')
    assert analytics_checked.search(pages["accept_all"][0])
    assert not analytics_checked.search(pages["reject_all"][0]) and not analytics_checked.search(
        pages[None][0]
    )
    # Two readers who have not chosen share the stored page, never the token.
    assert _secrets(pages[None][0]) != _secrets(pages[None][1])


def test_forms_post_from_a_cached_page_with_csrf_checks_on(flagship):
    Client().get(ARTICLE)  # someone else's visit stores the page
    reader = Client(enforce_csrf_checks=True)
    html = reader.get(ARTICLE).content.decode()
    [token] = TOKEN.findall(html)[:1]
    response = reader.post(
        "/consent/", {"action": "accept_all", "next": ARTICLE, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/privacy/")  # a cookie of its own, and another reader's token: refused
    assert (
        stranger.post("/consent/", {"action": "accept_all", "csrfmiddlewaretoken": token}).status_code == 403
    )


def test_a_flash_message_is_shown_to_its_reader_only_and_never_stored(flagship):
    Client().get(ARTICLE)  # stored; "Run again" of a prose-only answer is refused with a message
    reader = Client()
    response = reader.post(f"{ARTICLE}run-again/", follow=True)
    html = response.content.decode()
    assert 'class="messages"' in html, html[:3000]
    other = Client().get(ARTICLE).content.decode()
    assert 'class="messages"' not in other
    assert 'class="messages"' not in reader.get(ARTICLE).content.decode()  # shown once


def test_staff_pages_are_rendered_live_and_never_stored(
    flagship, admin_client, django_assert_max_num_queries
):
    staff_page = admin_client.get(ARTICLE)
    assert staff_page.status_code == 200 and "ETag" not in staff_page  # rendered live
    with django_assert_max_num_queries(3) as queries:
        Client().get(ARTICLE)  # the anonymous reader's page was not stored by the staff visit
    assert len(queries) > 0


def test_unchanged_article_answers_304_without_a_body(flagship, django_assert_num_queries):
    reader = Client()
    first = reader.get(ARTICLE)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    with django_assert_num_queries(0):
        again = reader.get(ARTICLE, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert reader.get(ARTICLE, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]
    assert "Cookie" in first["Vary"]


def test_the_etag_changes_with_anything_on_the_page(flagship):
    from answers.services import answer_save

    reader = Client()
    etag = reader.get(ARTICLE)["ETag"]
    reader.post("/consent/", {"action": "reject_all", "next": "/"})
    after_consent = reader.get(ARTICLE, HTTP_IF_NONE_MATCH=etag)
    assert after_consent.status_code == 200 and after_consent["ETag"] != etag
    answer_save(question=flagship, body="## Short answer\n\nA new verified revision.\n")
    after_publish = reader.get(ARTICLE, HTTP_IF_NONE_MATCH=after_consent["ETag"])
    assert after_publish.status_code == 200 and "A new verified revision." in after_publish.content.decode()
    other_reader = Client()
    assert other_reader.get(ARTICLE, HTTP_IF_NONE_MATCH=after_publish["ETag"]).status_code == 200


def test_made_up_query_strings_are_rendered_live_not_stored(flagship, django_assert_max_num_queries):
    client = Client()
    client.get(f"{ARTICLE}?utm=1")
    with django_assert_max_num_queries(3) as queries:
        client.get(f"{ARTICLE}?utm=1")
    assert len(queries) > 0


def test_analytics_count_a_consenting_readers_cached_views_only(flagship):
    from analytics.models import ArticleViewDay

    Client().get(ARTICLE)  # stored
    accepting, refusing, undecided = _reader("accept_all"), _reader("reject_all"), _reader(None)
    for reader in (accepting, refusing, undecided, accepting):
        assert reader.get(ARTICLE).status_code == 200
    assert ArticleViewDay.objects.get(question=flagship).views == 2
    # A revalidated view (304, the browser shows its copy) is a view too, for the consenting only.
    for reader in (accepting, refusing, undecided):
        etag = reader.get(ARTICLE)["ETag"]
        assert reader.get(ARTICLE, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert ArticleViewDay.objects.get(question=flagship).views == 4


def test_cookie_less_readers_of_a_cached_page_each_get_a_fresh_random_secret(flagship):
    from collections import Counter

    from django.middleware.csrf import CSRF_ALLOWED_CHARS

    Client().get(ARTICLE)  # stored
    seen = []
    for _ in range(200):
        reader = Client()
        html = reader.get(ARTICLE).content.decode()
        secret = reader.cookies["csrftoken"].value
        assert _secrets(html) == {secret} and len(secret) == 32
        seen.append(secret)
    assert len(set(seen)) == len(seen)
    # The secrets are drawn evenly from Django's 62 characters (~103 of each here).
    counts = Counter("".join(seen))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    assert min(counts.values()) > 40 and max(counts.values()) < 180


def test_with_the_page_cache_off_every_page_is_rendered_live(flagship, settings):
    from kb.models import Question

    reader = Client()
    reader.get(ARTICLE)  # stored, in Redis and in this process
    settings.CACHES = {**settings.CACHES, "pages": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert flagship.title in reader.get(ARTICLE).content.decode()
    # A change that tells nobody (a raw UPDATE): only a page rendered live can show it.
    Question.objects.filter(pk=flagship.pk).update(title="Renamed without telling the cache")
    assert "Renamed without telling the cache" in reader.get(ARTICLE).content.decode()
