"""Readers vote in Chromium, with and without JavaScript, from cached pages; staff read the
feedback and the content-health page. axe finds nothing on any of these pages."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from feedback.models import Vote
from kb.models import Question
from tests.e2e.reading.test_accessibility import axe_violations

PASSWORD = "pw-Editor-123"


@pytest.fixture(autouse=True)
def _feedback_settings(settings):
    cache.clear()  # rate limits and single-use form tokens
    settings.DEMO_REQUEST_MIN_SECONDS = 0  # a test ticks boxes faster than any person


@pytest.fixture
def site(live_server, flagship, make_question, django_user_model):
    editor = django_user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)
    make_question(title="Pooling", slug="pooling", published_at=timezone.now() - timedelta(days=400))
    Question.objects.update(owner=editor)
    return live_server.url


def test_readers_vote_with_and_without_javascript_and_staff_read_it(browser, site, artifacts_dir):
    # CSP bypassed only so that axe can be injected (as in tests/e2e/reading/test_accessibility.py).
    scripted = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    plain = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        # With JavaScript, from the cached page (a first visit stored it): "Yes" is thanked in place.
        page = scripted.new_page()
        page.goto(site + "/questions/deep-learning-vs-cnn/")
        page.reload()
        feedback = page.get_by_role("region", name="Was this helpful?")
        expect(feedback).to_be_visible()
        assert axe_violations(page) == []
        url = page.url
        feedback.get_by_role("button", name="Yes").click()
        expect(feedback.get_by_role("status")).to_have_text(
            "Thank you: your feedback helps us keep this answer right."
        )
        expect(feedback.get_by_role("button", name="Yes")).to_be_hidden()
        assert page.url == url and Vote.objects.filter(helpful=True).count() == 1

        # Without JavaScript, by keyboard: "No" is a plain post that goes on to ask why.
        bare = plain.new_page()
        bare.goto(site + "/questions/pooling/")
        bare.reload()
        bare.get_by_role("button", name="No").focus()
        bare.keyboard.press("Enter")
        expect(bare.get_by_role("heading", name="What was wrong with this answer?")).to_be_visible()
        why_url = bare.url
        bare.get_by_label("It is out of date").check()
        bare.get_by_label("The code or output is wrong").focus()
        bare.keyboard.press("Space")
        bare.get_by_label(re.compile("^Anything else")).fill("torch.nn.functional is used, not nn.\nLine 3.")
        bare.get_by_role("button", name="Send").click()
        expect(bare.get_by_role("status").first).to_contain_text("Thank you")
        assert bare.url.endswith("/questions/pooling/#messages")
        vote = Vote.objects.get(helpful=False)
        assert sorted(vote.reasons.values_list("reason", flat=True)) == ["outdated", "wrong"]
        assert vote.comment == "torch.nn.functional is used, not nn.\nLine 3."

        page.goto(why_url)  # the page that asks why, checked with axe where scripts run
        expect(page.get_by_role("heading", name="What was wrong with this answer?")).to_be_visible()
        assert axe_violations(page) == []

        page.goto(site + "/admin/login/")
        page.get_by_label("Username").fill("editor")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(site + f"/admin/feedback/vote/answer/{vote.answer_id}/")
        expect(page.get_by_role("heading", name="Reader feedback: Pooling")).to_be_visible()
        expect(page.get_by_role("cell", name="It is out of date", exact=True)).to_be_visible()
        assert axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "feedback-report.png"), full_page=True)

        page.goto(site + "/admin/kb/question/content-health/")
        stale = page.locator("#stale + table")
        expect(stale.get_by_role("link", name="Pooling")).to_be_visible()
        expect(page.locator("#flagged + table").get_by_role("link", name="Pooling")).to_be_visible()
        assert axe_violations(page) == []
        stale.get_by_role("button", name="Mark “Pooling” reviewed").click()
        expect(page.get_by_text("Marked “Pooling” reviewed.")).to_be_visible()
        expect(page.locator("#stale + p")).to_have_text("None.")
        page.screenshot(path=str(artifacts_dir / "content-health.png"), full_page=True)

        bare.goto(site + "/questions/pooling/")  # the cached page shows the review at once
        expect(bare.locator(".reviewed")).to_contain_text(re.compile(r"^Reviewed \d{1,2} \w{3} \d{4}"))
    finally:
        scripted.close()
        plain.close()
