"""The page cache in Chromium: isolated readers of one cached article each see their
own consent banner, their forms post (with and without JavaScript), and staff sessions stay
theirs. Each reader is a separate browser context: no cookie, storage or cache shared."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from analytics.models import ArticleViewDay
from demo_requests.models import DemoRequest

ARTICLE = "/questions/deep-learning-vs-cnn/"


@pytest.fixture
def site(live_server, flagship, settings):
    settings.DEMO_REQUEST_MIN_SECONDS = 0  # a test fills the form faster than any person
    Client().get(ARTICLE)  # someone else's visit: the page is in the cache before any reader comes
    return live_server.url


@pytest.fixture
def reader(browser):
    contexts = []

    def open_reader(**options):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_reader
    for context in contexts:
        context.close()


def _banner(page):
    return page.get_by_role("region", name=re.compile("^Cookies on "))


def _views() -> int:
    return sum(ArticleViewDay.objects.values_list("views", flat=True))


def test_three_readers_of_one_cached_page_each_see_their_own_consent_state(site, reader):
    a, b, c = reader(), reader(), reader()
    for page in (a, b, c):
        page.goto(site + ARTICLE)
        expect(_banner(page)).to_be_visible()
    a.get_by_role("button", name="Accept all").first.click()
    b.get_by_role("button", name="Reject all").first.click()
    for page in (a, b, c):
        page.goto(site + ARTICLE)
    expect(_banner(a)).to_be_hidden()
    expect(_banner(b)).to_be_hidden()
    expect(_banner(c)).to_be_visible()
    assert a.locator("#consent-banner-analytics").is_checked()
    assert not b.locator("#consent-banner-analytics").is_checked()
    assert not c.locator("#consent-banner-analytics").is_checked()
    # Each holds a CSRF secret of its own.
    secrets = {
        cookie["value"] for p in (a, b, c) for cookie in p.context.cookies() if cookie["name"] == "csrftoken"
    }
    assert len(secrets) == 3
    # Only A's views are counted, though every page came from the cache.
    before = _views()
    for page in (a, b, c):
        page.reload()
    assert _views() == before + 1


def test_the_consent_form_posts_from_a_cached_page_without_javascript(site, reader):
    page = reader(java_script_enabled=False)
    page.goto(site + ARTICLE)
    expect(_banner(page)).to_be_visible()
    page.get_by_role("button", name="Reject all").first.click()
    expect(page).to_have_url(re.compile(re.escape(ARTICLE) + "$"))
    expect(_banner(page)).to_be_hidden()
    assert "403" not in page.title()


def test_the_demo_form_posts_after_a_cached_article(site, reader):
    page = reader()
    page.goto(site + ARTICLE)
    page.get_by_role("button", name="Accept all").first.click()
    page.get_by_role("link", name="Request a demo").click()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Work e-mail").fill("ada@example.com")
    page.get_by_label("Company").fill("Analytical Engines")
    page.get_by_role("checkbox", name=re.compile("You may contact me")).check()
    page.get_by_role("button", name="Send request").click()
    expect(page).to_have_url(re.compile(r"/demo/thanks/$"))
    assert DemoRequest.objects.get().source_slug == "deep-learning-vs-cnn"


def test_a_signed_in_staff_member_keeps_their_session_and_nothing_of_it_reaches_readers(
    site, reader, django_user_model
):
    django_user_model.objects.create_superuser("editor", "editor@example.com", "pw-Editor-123")
    staff = reader()
    staff.goto(site + "/admin/login/?next=" + ARTICLE)
    staff.get_by_label("Username").fill("editor")
    staff.get_by_label("Password").fill("pw-Editor-123")
    staff.get_by_role("button", name="Log in").click()
    expect(staff).to_have_url(re.compile(re.escape(ARTICLE) + "$"))
    expect(staff.get_by_role("heading", level=1)).to_contain_text("deep learning")
    staff_cookies = {c["name"]: c["value"] for c in staff.context.cookies()}
    assert "sessionid" in staff_cookies

    anonymous = reader()
    response = anonymous.goto(site + ARTICLE)
    cookies = {c["name"]: c["value"] for c in anonymous.context.cookies()}
    assert "sessionid" not in cookies and cookies["csrftoken"] != staff_cookies["csrftoken"]
    assert "editor" not in anonymous.content()
    assert "private" in response.headers["cache-control"]
    # And the staff member is still signed in: the admin opens without a login form.
    staff.goto(site + "/admin/")
    expect(staff.get_by_role("heading", name="Site administration")).to_be_visible()
