"""The search report from real searches through the site, and who may read it."""

import datetime
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from kb.models import SearchQueryDay, Synonym, Tag
from kb.search_report import zero_result_queries

pytestmark = pytest.mark.django_db

POOL = "## Pooling\n\nMax pooling keeps the largest activation in each window.\n"
REPORT = "/admin/kb/searchqueryday/"


def _row(query):
    return SearchQueryDay.objects.get(query=query, day=timezone.localdate())


def test_searches_are_counted_per_normalised_query_with_results_and_nothing_personal(client, make_question):
    make_question(title="Max pooling", body=POOL)
    client.get("/search/", {"q": "Pooling"})
    client.get("/search/", {"q": "  POOLING  "}, HTTP_USER_AGENT="another reader")
    client.get("/search/", {"q": "pooling", "page": "2"})  # the next page of the same search
    client.get("/search/", {"q": "quaternion"})
    client.get("/search/", {"q": "   "})
    row = _row("pooling")
    assert (row.searches, row.results, row.opens) == (2, 1, 0)
    assert _row("quaternion").results == 0
    assert SearchQueryDay.objects.count() == 2
    fields = {f.name for f in SearchQueryDay._meta.get_fields()}
    assert fields == {"id", "query", "day", "searches", "results", "opens"}


def test_an_opened_result_is_counted_and_the_article_url_stays_as_it_is(client, make_question):
    question = make_question(title="Max pooling", body=POOL)
    html = client.get("/search/", {"q": "Max pooling"}).content.decode()
    link = re.search(r'class="question-card__title"><a href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/search/open/?q=Max%20pooling&to=max-pooling")
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == question.get_absolute_url()
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert _row("max pooling").opens == 1
    # The article itself is the ordinary cached page.
    assert client.get(response["Location"]).status_code == 200


def test_forged_open_links_count_nothing_and_reveal_no_draft(client, make_question):
    make_question(title="Max pooling", body=POOL)
    make_question(title="Secret draft", body=POOL, published=False)
    response = client.get("/search/open/", {"q": "never searched", "to": "max-pooling"})
    assert response.status_code == 302 and not SearchQueryDay.objects.exists()
    assert client.get("/search/open/", {"q": "x", "to": "secret-draft"}).status_code == 404
    assert client.get("/search/open/", {"q": "x", "to": "https://evil.example/"}).status_code == 404
    assert client.get("/search/open/", {"q": "x"}).status_code == 404
    assert client.post("/search/open/", {"q": "x", "to": "max-pooling"}).status_code == 405


def test_zero_result_queries_by_period_and_by_the_tags_they_name(client, make_question):
    make_question(title="Max pooling", body=POOL)
    Tag.objects.create(name="pytorch", slug="pytorch")
    Tag.objects.create(name="time series", slug="time-series")
    for query in ["quaternion", "quaternion", "pytorch quaternion", "time series quaternion", "pooling"]:
        client.get("/search/", {"q": query})
    SearchQueryDay.objects.create(
        query="old miss", day=timezone.localdate() - datetime.timedelta(days=10), searches=1
    )
    week = timezone.localdate() - datetime.timedelta(days=6)
    assert zero_result_queries(week) == [
        ("quaternion", 2),
        ("pytorch quaternion", 1),
        ("time series quaternion", 1),
    ]
    assert ("old miss", 1) in zero_result_queries(timezone.now() - datetime.timedelta(days=30))
    tagged = zero_result_queries(week, tags=Tag.objects.filter(slug__in=["pytorch", "time-series"]))
    assert tagged == [("pytorch quaternion", 1), ("time series quaternion", 1)]
    assert zero_result_queries(week, tags=[]) == []


def _staff(client, *codenames):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_the_report_lists_top_zero_result_and_unopened_queries(client, make_question):
    make_question(title="Max pooling", body=POOL)
    make_question(title="Average pooling", body=POOL)
    for query in ["pooling", "pooling", "pooling", "max", "quaternion"]:
        client.get("/search/", {"q": query})
    client.get("/search/open/", {"q": "max", "to": "max-pooling"})
    _staff(client, "view_searchqueryday", "add_question", "view_question")
    html = client.get(REPORT).content.decode()
    zero, unopened, top = html.split("<h2>")[1:4]
    assert "Searches that found nothing" in zero and "quaternion" in zero and "pooling" not in zero
    start = re.search(r'<a href="([^"]+)">Start a question from this</a>', zero).group(1)
    start = start.replace("&amp;", "&")
    assert start == "/admin/kb/question/add/?title=Quaternion&slug=quaternion"
    assert 'value="Quaternion"' in client.get(start).content.decode()
    assert "pooling" in unopened and ">max<" not in unopened
    assert top.index(">pooling<") < top.index(">max<")
    assert "<td>3</td>" in top
    assert client.get(REPORT, {"days": "7"}).status_code == 200
    assert client.get(REPORT, {"days": "1; DROP"}).status_code == 200


def test_the_report_needs_its_permission_and_is_read_only(client):
    SearchQueryDay.objects.create(query="quaternion", day=timezone.localdate(), searches=1)
    anonymous = client.get(REPORT)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    _staff(client, "view_question")
    assert client.get(REPORT).status_code == 403
    client.logout()
    User.objects.all().delete()
    _staff(client, "view_searchqueryday")  # may read it, but not start a question from it
    html = client.get(REPORT).content.decode()
    assert "quaternion" in html and "Start a question from this" not in html
    row = SearchQueryDay.objects.get()
    assert client.get(f"{REPORT}add/").status_code == 403
    for url in [f"{REPORT}add/", f"{REPORT}{row.pk}/change/", f"{REPORT}{row.pk}/delete/"]:
        assert client.post(url, {"query": "x", "post": "yes"}).status_code == 403, url
    assert SearchQueryDay.objects.get().query == "quaternion"


def test_staff_edit_synonyms_with_a_clear_error_for_junk(client):
    _staff(client, "add_synonym", "view_synonym", "change_synonym")
    response = client.post("/admin/kb/synonym/add/", {"terms": "only one"})
    assert response.status_code == 200 and "at least two different terms" in response.content.decode()
    response = client.post("/admin/kb/synonym/add/", {"terms": " RF ,  receptive   field "})
    assert response.status_code == 302 and Synonym.objects.filter(terms="RF, receptive field").exists()


def test_the_privacy_page_says_searches_are_counted_without_who_searched(client):
    html = client.get("/privacy/").content.decode()
    assert 'id="searches"' in html and "Nothing about who searched is stored" in html
