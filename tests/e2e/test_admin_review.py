"""The review page in Chromium: a reviewer opens it from the question's admin page, reads the
change against the published revision with real outputs and figures, axe finds nothing in the
light or dark scheme, and requests changes with the keyboard alone."""

import pytest
from playwright.sync_api import expect

from answers.reviews import review_submit
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.e2e.reading.test_accessibility import AXE, axe_violations
from tests.support.reviewers import reviewers_group
from tests.support.workers import wait_for

pytestmark = pytest.mark.slow

V1 = """Bars and a sum.

```python run
print("total", 1 + 2)
```

```python run
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
```
"""
V2 = (
    V1.replace("Bars and a sum.", "Bars, reversed, and a sum.")
    .replace("1 + 2", "2 + 2")
    .replace("[1, 2]", "[2, 1]")
)


def _finished(question):
    question.answer.refresh_from_db()
    run = question.answer.run
    return run is not None and run.is_finished and run.status == "verified"


def test_reviewer_reads_the_change_and_requests_changes_by_keyboard(
    browser, live_server, cpu_worker, django_user_model, artifacts_dir
):
    assert AXE.exists(), "run `npm ci` in tests/e2e (bin/test does it)"
    author = django_user_model.objects.create_user("author", is_staff=True)
    reviewer = django_user_model.objects.create_user(
        "reviewer", "r@example.com", "A-long-pass-phrase-1", is_staff=True
    )
    reviewer.groups.add(reviewers_group())
    question = Question.objects.create(title="Bars and sums", slug="bars-and-sums")
    answer_save(question=question, body=V1)
    question_publish(question=question)
    wait_for(lambda: _finished(question), timeout=90)
    answer_save(question=question, body=V2, by=author)
    wait_for(lambda: _finished(question), timeout=90)
    review_submit(question=question, by=author, comment="Reversed the bars.")

    context = browser.new_context(bypass_csp=True)  # only so that axe's script can be injected
    page = context.new_page()
    try:
        page.goto(live_server.url + "/admin/login/")
        page.get_by_label("Username").fill("reviewer")
        page.get_by_label("Password").fill("A-long-pass-phrase-1")
        page.get_by_role("button", name="Log in").click()
        page.goto(live_server.url + f"/admin/kb/question/{question.pk}/change/")
        expect(page.locator(".field-review_history")).to_contain_text("Reversed the bars.")
        page.get_by_role("link", name="Review", exact=True).click()

        expect(page.get_by_role("heading", name="Review: Bars and sums")).to_be_visible()
        expect(page.locator(".kb-prose-diff ins").first).to_have_text("Bars, reversed,")
        expect(page.locator(".kb-prose-diff del").first).to_have_text("Bars")
        expect(page.locator(".kb-line--added").first).to_contain_text("2 + 2")
        expect(page.get_by_label("Output of Cell 1 before")).to_have_text("total 3")
        expect(page.get_by_label("Output of Cell 1 after")).to_have_text("total 4")
        for alt in ("Figure 1 of Cell 2, published revision", "Figure 1 of Cell 2, revision 2"):
            image = page.get_by_alt_text(alt)
            expect(image).to_be_visible()
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), alt
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            assert axe_violations(page) == [], scheme
            page.screenshot(path=str(artifacts_dir / f"admin-review-{scheme}.png"), full_page=True)

        comment = page.get_by_label("What should change (required)")
        comment.focus()
        page.keyboard.type("Say why the bars are reversed.")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Request changes")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(".messagelist")).to_contain_text("Changes requested")
        expect(page.locator(".kb-review__state")).to_contain_text("Draft")
        expect(page.locator(".kb-review-history tbody tr").first).to_contain_text(
            "Say why the bars are reversed."
        )
        assert axe_violations(page) == []
    finally:
        context.close()
    question.refresh_from_db()
    assert question.review_state == "draft" and question.answer.published_revision.number == 1
