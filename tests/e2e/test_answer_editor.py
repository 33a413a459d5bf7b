"""The answer editor in the question admin, in Chromium: the body is a code editor with the
server's own problems on their lines, cell options completed as typed and a live preview that
is the published page's HTML; without JavaScript the same form is a plain textarea."""

import pytest
from playwright.sync_api import expect

from kb.models import Question
from tests.e2e.reading.test_accessibility import AXE, WCAG_21_AA
from tests.e2e.test_csp import WATCH

pytestmark = pytest.mark.slow

# CodeMirror ignores Enter on a completion list shown less than 75 ms ago (a fast typist's
# Enter is a new line, not a pick): wait that long, as a person reading the list does.
COMPLETION_DELAY_MS = 150
PASSWORD = "A-long-pass-phrase-1"
PROSE = """## Why a table

A short answer with a [link](https://example.com/) and a table.

| a | b |
|---|---|
| 1 | 2 |

```python
print("shown, not run")
```
"""
# The article's own HTML, without what the page puts around the answer.
ARTICLE_BODY_JS = """() => Array.from(document.querySelector("article").children)
  .filter(e => e.tagName !== "HEADER" && !e.matches(".meta, .notice, .run-again, form"))
  .map(e => e.outerHTML).join("\\n")"""
PREVIEW_BODY_JS = """() => Array.from(document.querySelector(".kb-answer-editor__rendered").children)
  .map(e => e.outerHTML).join("\\n")"""


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("author", "author@example.com", PASSWORD)


def _sign_in(page, base_url: str) -> None:
    page.goto(base_url + "/admin/login/")
    page.get_by_label("Username").fill("author")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def _type_body(page, text: str) -> None:
    editor = page.locator(".kb-answer-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    # insertText: the editor's auto-closing brackets and indentation would change typed text.
    page.keyboard.insert_text(text)


def test_problems_completion_and_live_preview_as_the_author_types(page, live_server, staff):
    page.add_init_script(WATCH)
    console = []
    page.on("console", lambda message: console.append(message.text))
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/admin/kb/question/add/")
    expect(page.locator(".kb-answer-editor .cm-editor")).to_be_visible()
    expect(page.locator("#id_answer-0-body")).to_be_hidden()

    _type_body(page, "## Sum\n\n```python run colour=red\nprint(1 + 1)\n```\n\n```output\n2\n```\n")
    marked = page.locator(".cm-lintRange-error")
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("python run colour=red")  # on the fence line, where the problem is
    page.locator(".cm-lint-marker-error").hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("unknown cell option 'colour'")

    # Fix it by completing a real option on the same line.
    page.locator(".cm-line", has_text="colour=red").click()
    page.keyboard.press("End")
    for _ in range(len("colour=red")):
        page.keyboard.press("Backspace")
    page.keyboard.type("nondet")
    expect(page.locator(".cm-tooltip-autocomplete")).to_contain_text("nondeterministic=")
    page.wait_for_timeout(COMPLETION_DELAY_MS)
    page.keyboard.press("Enter")
    page.keyboard.type("t")
    expect(page.locator(".cm-tooltip-autocomplete")).to_contain_text("true")
    page.wait_for_timeout(COMPLETION_DELAY_MS)
    page.keyboard.press("Enter")
    expect(marked).to_have_count(0)
    assert "```python run nondeterministic=true\n" in page.locator("#id_answer-0-body").input_value()

    preview = page.locator(".kb-answer-editor__rendered")
    expect(preview.get_by_role("heading", name="Sum")).to_be_visible()
    expect(preview.locator("#cell-1")).to_contain_text("nondeterministic: its output may differ")
    expect(preview.locator("#cell-1 .cell__expected")).to_contain_text("2")

    # Python is highlighted inside the cell: its tokens carry the highlighter's classes.
    assert page.locator(".cm-line", has_text="print(1 + 1)").locator("span").count() >= 2
    violations = page.evaluate("window.__cspViolations")
    assert violations == [] and not [t for t in console if "Content Security Policy" in t]


def test_preview_is_exactly_the_published_article(browser, page, live_server, staff):
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("Why a table")
    _type_body(page, PROSE)
    expect(page.locator(".kb-answer-editor__rendered table")).to_be_visible()
    preview_html = page.evaluate(PREVIEW_BODY_JS)
    page.get_by_label("Status:").select_option("published")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    question = Question.objects.get(title="Why a table")
    assert question.answer.published_html
    # The page as served: the reader's script later wraps wide tables for scrolling.
    reader = browser.new_context(java_script_enabled=False).new_page()
    try:
        reader.goto(live_server.url + f"/questions/{question.slug}/")
        assert reader.evaluate(ARTICLE_BODY_JS) == preview_html
    finally:
        reader.context.close()


def test_without_javascript_the_body_is_the_plain_textarea(browser, live_server, staff):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/kb/question/add/")
        body = page.locator("#id_answer-0-body")
        expect(body).to_be_visible()
        assert page.locator(".cm-editor").count() == 0
        page.get_by_label("Title:").fill("Plain")
        page.get_by_label("Slug:").fill("plain")  # no script fills it in from the title
        body.fill("Plain **Markdown**.\n")
        page.get_by_role("button", name="Save and continue editing").click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        assert Question.objects.get(title="Plain").answer.body.strip() == "Plain **Markdown**."
    finally:
        context.close()


def test_editor_keyboard_only_and_axe_finds_nothing(browser, live_server, staff):
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/kb/question/add/")
        expect(page.locator(".kb-answer-editor__rendered")).to_be_attached()
        # The body's label takes focus into the editor; Tab leaves it (no keyboard trap).
        page.locator('label[for="id_answer-0-body"]').click()
        expect(page.locator(".kb-answer-editor .cm-content")).to_be_focused()
        page.keyboard.type("Typed **only** with keys")
        page.keyboard.press("Tab")
        expect(page.locator(".kb-answer-editor .cm-content")).not_to_be_focused()
        expect(page.locator(".kb-answer-editor__rendered strong")).to_have_text("only")
        # The editor and its preview; the rest of the page is Django's own admin widgets
        # (filter_horizontal, file inputs), which axe flags on main too.
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("o => axe.run('.kb-answer-editor', o)", WCAG_21_AA)
        assert [v["id"] + ": " + v["help"] for v in result["violations"]] == []
    finally:
        context.close()
