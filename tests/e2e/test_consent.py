"""Cookie consent in Chromium: the banner, the choices, withdrawal, keyboard and no-JS use."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from analytics.models import ArticleViewDay
from consent.models import ConsentRecord

ARTICLE = "/questions/deep-learning-vs-cnn/"


@pytest.fixture
def site(live_server, flagship):
    """The live site with one published article (no need to import all the seeded content)."""
    return live_server.url


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _cookies(page) -> dict:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def _views() -> int:
    return sum(ArticleViewDay.objects.values_list("views", flat=True))


def _banner(page):
    return page.get_by_role("region", name=re.compile("^Cookies on "))


def test_first_visit_shows_the_banner_with_equal_choices_and_no_analytics_cookie(page, site, artifacts_dir):
    page.goto(site + ARTICLE)
    banner = _banner(page)
    expect(banner).to_be_visible()
    accept = banner.get_by_role("button", name="Accept all")
    reject = banner.get_by_role("button", name="Reject all")
    expect(accept).to_be_visible()
    expect(reject).to_be_visible()
    style = "e => { const s = getComputedStyle(e); return [s.fontSize, s.fontWeight, s.backgroundColor]; }"
    assert accept.evaluate(style) == reject.evaluate(style)
    assert accept.bounding_box()["height"] == reject.bounding_box()["height"]
    expect(banner.get_by_text("Customise")).to_be_visible()
    cookies = _cookies(page)
    assert "kb_analytics" not in cookies and "kb_consent" not in cookies
    assert _views() == 0
    banner.get_by_text("Customise").click()
    expect(banner.get_by_role("checkbox", name="Analytics")).not_to_be_checked()
    expect(banner.get_by_role("checkbox", name=re.compile("^Necessary"))).to_be_checked()
    page.screenshot(path=str(artifacts_dir / "consent-banner.png"))


def test_reject_all_hides_the_banner_and_nothing_is_counted(page, site):
    page.goto(site + ARTICLE)
    _banner(page).get_by_role("button", name="Reject all").click()
    expect(page).to_have_url(re.compile(re.escape(ARTICLE) + "$"))
    expect(_banner(page)).to_be_hidden()
    page.reload()
    expect(_banner(page)).to_be_hidden()
    assert "kb_analytics" not in _cookies(page) and _cookies(page)["kb_consent"].startswith("2025-06:0:")
    assert _views() == 0
    assert ConsentRecord.objects.get().choices == {"necessary": True, "analytics": False}


def test_accept_all_then_a_page_view_is_counted(page, site):
    page.goto(site + ARTICLE)
    _banner(page).get_by_role("button", name="Accept all").click()
    expect(_banner(page)).to_be_hidden()
    assert "kb_analytics" in _cookies(page)
    assert _views() == 1  # the article page the choice returned to
    page.reload()
    assert _views() == 2


def test_withdrawing_through_cookie_settings_removes_the_analytics_cookie(page, site):
    page.goto(site + ARTICLE)
    _banner(page).get_by_role("button", name="Accept all").click()
    assert "kb_analytics" in _cookies(page)
    page.get_by_role("contentinfo").get_by_role("link", name="Cookie settings").click()
    banner = _banner(page)
    expect(banner).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Cookies on "))).to_be_focused()
    analytics = banner.get_by_role("checkbox", name="Analytics")
    expect(analytics).to_be_checked()
    analytics.uncheck()
    banner.get_by_role("button", name="Save my choices").click()
    expect(_banner(page)).to_be_hidden()
    assert "kb_analytics" not in _cookies(page)
    before = _views()
    page.reload()
    assert _views() == before


def test_the_banner_works_from_the_keyboard(page, site):
    page.goto(site + ARTICLE)
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Reject all":
            break
    expect(_banner(page).get_by_role("button", name="Reject all")).to_be_focused()
    page.keyboard.press("Enter")
    expect(_banner(page)).to_be_hidden()
    assert _cookies(page)["kb_consent"].startswith("2025-06:0:")


def test_without_javascript_the_banner_and_the_settings_page_still_work(browser, site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site + ARTICLE)
        banner = _banner(page)
        banner.get_by_text("Customise").click()
        banner.get_by_role("checkbox", name="Analytics").check()
        banner.get_by_role("button", name="Save my choices").click()
        expect(_banner(page)).to_be_hidden()
        assert _views() == 1
        page.get_by_role("link", name="Cookie settings").click()
        expect(page.get_by_role("heading", name="Cookie settings", level=1)).to_be_visible()
        page.get_by_role("button", name="Reject all").click()
        expect(page).to_have_url(re.compile(re.escape(ARTICLE) + "$"))
        assert "kb_analytics" not in {c["name"] for c in context.cookies()}
        assert _views() == 1
    finally:
        context.close()


def test_global_privacy_control_means_no_banner_and_no_counting(browser, site):
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        page.goto(site + ARTICLE)
        expect(_banner(page)).to_be_hidden()
        assert _views() == 0 and "kb_analytics" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()


def test_privacy_page_gives_a_real_address_to_exercise_rights(page, live_server, settings):
    settings.PRIVACY_CONTACT_EMAIL = "privacy@example.com"
    page.goto(live_server.url + "/privacy/")
    rights = page.locator("section, article").filter(has=page.get_by_role("heading", name="Your rights"))
    link = page.get_by_role("link", name="privacy@example.com")
    expect(link).to_have_attribute("href", "mailto:privacy@example.com")
    expect(rights.first).not_to_contain_text("company page")
    expect(rights.first).to_contain_text("copy of what we hold")
    expect(rights.first).to_contain_text("Cookie settings")


def test_on_a_phone_the_banner_leaves_the_title_on_the_first_screen(browser, site):
    """On a 390 x 844 phone the banner is compact: both choices, the article's title and the
    summary under it are all on the first screen, without scrolling."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(site + ARTICLE)
    banner = _banner(page)
    expect(banner).to_be_visible()
    for name in ("Accept all", "Reject all"):
        expect(banner.get_by_role("button", name=name)).to_be_in_viewport(ratio=1)
    expect(page.get_by_role("heading", level=1)).to_be_in_viewport(ratio=1)
    expect(page.locator("main .lede").first).to_be_in_viewport(ratio=1)
    context.close()
