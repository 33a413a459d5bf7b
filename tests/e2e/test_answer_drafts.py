"""The answer editor's drafts in Chromium: what an author types is saved on the server as they
type, so a closed tab loses nothing and the next visit offers it back; leaving with unsaved
changes asks first, saving the question does not."""

import pytest
from playwright.sync_api import expect

from answers.models import AnswerDraft
from kb.models import Question
from tests.e2e.test_answer_editor import PASSWORD, _sign_in, _type_body

pytestmark = pytest.mark.slow

TEXT = "## Kept\n\nTyped and never saved.\n"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("author", "author@example.com", PASSWORD)


def test_a_closed_tab_loses_nothing_and_leaving_asks_first(browser, live_server, staff):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/kb/question/add/")
        _type_body(page, TEXT)
        expect(page.locator(".kb-answer-drafts__status")).to_contain_text("Draft saved at")
        assert AnswerDraft.objects.get().body == TEXT

        with page.expect_event("dialog") as asked:
            page.close(run_before_unload=True)
        assert asked.value.type == "beforeunload"
        asked.value.accept()  # "Leave": the tab closes, the draft stays on the server
        dialogs = [asked.value.type]

        page = context.new_page()
        page.goto(live_server.url + "/admin/kb/question/add/")
        offer = page.get_by_role("region", name="Unsaved draft")
        expect(offer).to_contain_text("You have an unsaved draft of this answer from")
        offer.get_by_role("button", name="Restore draft").focus()  # from the keyboard
        page.keyboard.press("Enter")
        expect(offer).to_have_count(0)
        expect(page.locator("#id_answer-0-body")).to_have_value(TEXT)
        preview = page.locator(".kb-answer-editor__rendered")
        expect(preview.get_by_role("heading", name="Kept")).to_be_visible()

        # Saving the question is not "leaving with unsaved changes", and drops the draft.
        page.on("dialog", lambda dialog: dialogs.append(dialog.type))
        page.get_by_label("Title:").fill("Kept")
        page.get_by_role("button", name="Save and continue editing").click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        assert dialogs == ["beforeunload"]
        # (The admin's form keeps the textarea's CRLF line breaks and strips the end.)
        assert Question.objects.get(title="Kept").answer.body.replace("\r\n", "\n") == TEXT.strip()
        assert not AnswerDraft.objects.exists()
        page.goto(live_server.url + "/admin/kb/question/add/")
        expect(page.locator(".kb-answer-editor .cm-editor")).to_be_visible()
        expect(page.get_by_role("region", name="Unsaved draft")).to_have_count(0)
    finally:
        context.close()


def test_discarding_a_draft_drops_it(browser, live_server, staff):
    question = Question.objects.create(title="Saved", slug="saved")
    AnswerDraft.objects.create(author=staff, question=question, body="Old draft.\n")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        _sign_in(page, live_server.url)
        page.goto(live_server.url + f"/admin/kb/question/{question.pk}/change/")
        page.get_by_role("button", name="Discard draft").click()
        expect(page.locator(".kb-answer-drafts__status")).to_have_text("Draft discarded.")
        assert not AnswerDraft.objects.exists()
        assert page.locator("#id_answer-0-body").input_value() == ""
    finally:
        context.close()
