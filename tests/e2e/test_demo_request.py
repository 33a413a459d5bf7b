"""A visitor requests a demo from an article, in Chromium."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from demo_requests.models import DemoRequest


@pytest.fixture
def site(live_server, flagship):
    """The live site with one published article (no need to import all the seeded content)."""
    return live_server.url


@pytest.fixture(autouse=True)
def _form_settings(settings):
    cache.clear()  # the per-client rate limit
    settings.DEMO_REQUEST_MIN_SECONDS = 0  # a test fills the form faster than any person


def test_form_with_errors_keeps_the_typed_values_then_a_valid_request_ends_on_thank_you(
    page, site, artifacts_dir
):
    page.goto(site + "/questions/deep-learning-vs-cnn/")
    page.get_by_role("link", name="Request a demo").click()
    expect(page).to_have_url(re.compile(r"/demo/\?from=deep-learning-vs-cnn$"))
    expect(page.get_by_role("heading", name="Request a demo", level=1)).to_be_visible()
    expect(page.get_by_text("You came from the article")).to_be_visible()
    consent = page.get_by_role("checkbox", name=re.compile("You may contact me"))
    expect(consent).not_to_be_checked()
    honeypot = page.locator("#id_website")
    assert honeypot.bounding_box() is None or honeypot.bounding_box()["x"] < 0

    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Work e-mail").fill("grace@navy")
    page.get_by_label("Company").fill("US Navy <script>alert(1)</script>")
    page.get_by_label("Message").fill("Show me COBOL.\nAnd GPUs.")
    page.get_by_role("button", name="Send request").click()

    expect(page).to_have_title(re.compile("^Error: Request a demo"))
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    email = page.get_by_label("Work e-mail")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_email_error")).to_have_text(
        "Error: Enter an e-mail address like name@company.com."
    )
    expect(page.locator("#id_consent_error")).to_contain_text("Tick the box")
    expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")
    expect(email).to_have_value("grace@navy")
    expect(page.get_by_label("Company")).to_have_value("US Navy <script>alert(1)</script>")
    expect(page.get_by_label("Message")).to_have_value("Show me COBOL.\nAnd GPUs.")
    assert not DemoRequest.objects.exists()
    page.screenshot(path=str(artifacts_dir / "demo-form-errors.png"), full_page=True)

    page.get_by_role("link", name="Enter an e-mail address like name@company.com.").click()
    expect(email).to_be_focused()
    email.fill("grace@navy.example")
    page.get_by_role("checkbox", name=re.compile("You may contact me")).check()
    page.get_by_role("button", name="Send request").click()

    expect(page).to_have_url(re.compile(r"/demo/thanks/$"))
    expect(page.get_by_role("heading", name="Thank you, we have your request")).to_be_visible()
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    request = DemoRequest.objects.get()
    assert request.email == "grace@navy.example" and request.company == "US Navy <script>alert(1)</script>"
    assert (
        request.source_slug == "deep-learning-vs-cnn" and request.source_question.slug == request.source_slug
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_focus_moves_to_the_error_summary_after_a_post_with_errors(browser, site, javascript):
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=javascript)
    page = context.new_page()
    page.goto(site + "/demo/")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_role("button", name="Send request").click()
    expect(page).to_have_title(re.compile("^Error: Request a demo"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    # Keyboard users go from the summary straight to the first error's link.
    page.keyboard.press("Tab")
    expect(summary.get_by_role("link").first).to_be_focused()
    context.close()
