"""The cookie banner and settings panel as plain HTML: what a visitor without JavaScript gets."""

import re
import uuid

import pytest

from analytics.models import ArticleViewDay
from consent.models import ConsentRecord

pytestmark = pytest.mark.django_db

ARTICLE = "/questions/deep-learning-vs-cnn/"


def _banner(html: str) -> str:
    match = re.search(r'<section id="consent-banner".*?</section>', html, re.S)
    assert match, "no banner in the page"
    return match.group(0)


def _choose(client, action, next_url=ARTICLE, **extra):
    return client.post("/consent/", {"action": action, "next": next_url, **extra}, **extra.pop("headers", {}))


def _views():
    return sum(ArticleViewDay.objects.values_list("views", flat=True))


def test_first_visit_shows_the_banner_and_sets_nothing_optional(client, flagship):
    response = client.get(ARTICLE)
    banner = _banner(response.content.decode())
    assert " hidden" not in banner.split(">")[0]
    assert 'aria-labelledby="consent-banner-title"' in banner
    assert '<form class="consent-form" method="post" action="/consent/">' in banner
    accept = (
        '<button type="submit" class="consent-button" name="action" value="accept_all">Accept all</button>'
    )
    reject = (
        '<button type="submit" class="consent-button" name="action" value="reject_all">Reject all</button>'
    )
    assert accept in banner and reject in banner  # the same element, the same class: equal weight
    assert "<summary>Customise</summary>" in banner
    assert re.search(r'id="consent-banner-necessary" checked disabled', banner)
    assert re.search(
        r'id="consent-banner-analytics" name="analytics" value="1" aria-describedby="[^"]+">', banner
    )
    assert f'name="next" value="{ARTICLE}"' in banner
    assert set(response.cookies) <= {"csrftoken"}  # only the strictly necessary CSRF cookie
    assert _views() == 0 and not ConsentRecord.objects.exists()


def test_accept_all_records_consent_sets_the_cookies_and_counts_views(client, flagship):
    response = _choose(client, "accept_all")
    assert response.status_code == 302 and response["Location"] == ARTICLE
    record = ConsentRecord.objects.get()
    assert record.choices == {"necessary": True, "analytics": True}
    assert record.policy_version == "2025-06" and record.action == "accept_all" and not record.gpc
    assert {f.name for f in ConsentRecord._meta.fields} == {
        "id",
        "choices",
        "policy_version",
        "action",
        "gpc",
        "created_at",
    }
    cookie = response.cookies["kb_consent"]
    assert cookie.value == f"2025-06:1:{record.pk}"
    assert cookie["samesite"] == "Lax" and cookie["httponly"] and int(cookie["max-age"]) > 0
    assert response.cookies["kb_analytics"].value
    page = client.get(ARTICLE)
    assert " hidden" in _banner(page.content.decode()).split(">")[0]
    assert _views() == 1
    client.get(ARTICLE)
    day = ArticleViewDay.objects.get()
    assert (day.question_id, day.views, day.visitors) == (flagship.pk, 2, 1)


def test_reject_all_counts_nothing_and_sets_no_analytics_cookie(client, flagship):
    response = _choose(client, "reject_all")
    assert "kb_analytics" not in response.cookies
    assert response.cookies["kb_consent"].value.startswith("2025-06:0:")
    assert ConsentRecord.objects.get().choices == {"necessary": True, "analytics": False}
    page = client.get(ARTICLE)
    assert " hidden" in _banner(page.content.decode()).split(">")[0]
    assert "kb_analytics" not in page.cookies and _views() == 0


def test_customise_saves_exactly_what_was_ticked(client, flagship):
    _choose(client, "save")
    assert ConsentRecord.objects.get().choices["analytics"] is False
    _choose(client, "save", analytics="1")
    latest = ConsentRecord.objects.order_by("-created_at").first()
    assert latest.action == "customise" and latest.choices["analytics"] is True
    client.get(ARTICLE)
    assert _views() == 1


def test_withdrawing_consent_deletes_the_analytics_cookie_and_stops_counting(client, flagship):
    _choose(client, "accept_all")
    client.get(ARTICLE)
    settings_page = client.get(f"/consent/?next={ARTICLE}").content.decode()
    assert "analytics are <strong>allowed</strong>" in settings_page
    assert 'id="consent-settings-analytics" name="analytics" value="1"' in settings_page
    assert "checked>" in settings_page.split('id="consent-settings-analytics"')[1].split("\n")[0]
    response = _choose(client, "save")  # analytics unticked
    deleted = response.cookies["kb_analytics"]
    assert deleted.value == "" and deleted["max-age"] == 0
    client.get(ARTICLE)
    assert _views() == 1
    assert ConsentRecord.objects.count() == 2


def test_footer_link_reopens_the_panel_without_javascript(client, flagship):
    _choose(client, "reject_all")
    html = client.get(ARTICLE).content.decode()
    assert (
        '<a href="/consent/?next=/questions/deep-learning-vs-cnn/" data-consent-open>Cookie settings</a>'
        in html
    )
    panel = client.get(f"/consent/?next={ARTICLE}").content.decode()
    assert "<h1>Cookie settings</h1>" in panel and "<details" in panel and " open>" in panel
    assert 'id="consent-banner"' not in panel  # the page is the panel; no second copy


def test_a_new_policy_version_asks_again_and_drops_the_analytics_cookie(client, flagship, settings):
    _choose(client, "accept_all")
    settings.CONSENT_POLICY_VERSION = "2026-01"
    response = client.get(ARTICLE)
    assert " hidden" not in _banner(response.content.decode()).split(">")[0]
    assert response.cookies["kb_analytics"]["max-age"] == 0
    assert _views() == 0
    _choose(client, "accept_all")
    assert client.cookies["kb_consent"].value.startswith("2026-01:1:")


def test_global_privacy_control_is_a_refusal(client, flagship):
    gpc = {"HTTP_SEC_GPC": "1"}
    first = client.get(ARTICLE, **gpc)
    assert " hidden" in _banner(first.content.decode()).split(">")[0]  # the browser already said no
    assert "Sec-GPC" in first["Vary"]
    response = client.post("/consent/", {"action": "accept_all", "next": ARTICLE}, **gpc)
    record = ConsentRecord.objects.get()
    assert record.gpc and record.choices["analytics"] is False
    assert "kb_analytics" not in response.cookies
    client.get(ARTICLE, **gpc)
    assert _views() == 0
    panel = client.get("/consent/", **gpc).content.decode()
    assert "Global Privacy Control" in panel


def test_gpc_overrides_an_earlier_accept(client, flagship):
    _choose(client, "accept_all")
    response = client.get(ARTICLE, HTTP_SEC_GPC="1")
    assert response.cookies["kb_analytics"]["max-age"] == 0 and _views() == 0


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_never_leaves_the_site(client, next_url):
    response = client.post("/consent/", {"action": "reject_all", "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize(
    "cookie", ["garbage", "2025-06:1:not-a-uuid", "2025-06:2:" + str(uuid.uuid4()), "<script>:1:x", ""]
)
def test_a_tampered_consent_cookie_counts_as_no_choice(client, flagship, cookie):
    client.cookies["kb_consent"] = cookie
    response = client.get(ARTICLE)
    assert response.status_code == 200
    assert " hidden" not in _banner(response.content.decode()).split(">")[0]
    assert _views() == 0


def test_bad_posts_get_a_clear_answer(client):
    response = client.post("/consent/", {"action": "sell_my_data"})
    assert response.status_code == 400 and "Choose one of the buttons" in response.content.decode()
    assert client.put("/consent/").status_code == 405
    assert not ConsentRecord.objects.exists()
