""" "Edit and run" in Chromium: a reader edits a cell, runs it, sees the output beside the
verified one and a figure, resets it; the same without JavaScript; two readers at once each see
their own run; an empty bucket shows its 429 in the page; axe finds nothing with the editor open.
The code editor's bundle is fetched on the first "Edit and run" opened, not with the page, and
works from the keyboard. Real live server, verifying worker, `try` worker, Redis and PostgreSQL."""

import re

import pytest
from playwright.sync_api import expect

from answers import tryit_limits as limits
from answers.models import Answer
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.e2e.answer_body import fill_through_editor
from tests.e2e.reading.test_accessibility import axe_violations
from tests.support.workers import wait_for

pytestmark = pytest.mark.slow

BODY = """## Try it

```python run
base = 20
print("ready")
```

```python run
base * 2
```

```output
40
```
"""


@pytest.fixture
def answer_url(live_server, cpu_worker, try_worker):
    question = Question.objects.create(title="Try it here", slug="try-it-here")
    answer_save(question=question, body=BODY)
    question_publish(question=question)
    wait_for(lambda: Answer.objects.get(question=question).published_verified, timeout=90)
    limits.bucket_reset(client=limits.client_hash(address="127.0.0.1"))
    yield live_server.url + "/questions/try-it-here/"
    limits.bucket_reset(client=limits.client_hash(address="127.0.0.1"))


BUNDLE = "vendor/kb_code_editor"

WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def open_cell(page, number: int):
    cell = page.locator(f"#cell-{number}")
    cell.get_by_text("Edit and run").click()
    return cell


def code_of(cell):
    """The cell's textarea, once the code editor (which hides it) is attached to it."""
    textarea = cell.locator("textarea.try__code")
    expect(textarea).to_have_attribute("data-kb-code-editor", "attached", timeout=15_000)
    return textarea


def write_code(cell, text: str):
    textarea = code_of(cell)
    fill_through_editor(textarea, text)
    return textarea


def test_the_editor_is_fetched_on_the_first_edit_and_run_only(page, answer_url):
    page.add_init_script(WATCH_CSP)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(answer_url)
    page.wait_for_load_state("load")
    assert page.locator("#cell-2 textarea.try__code").count() == 1
    assert not [u for u in requested if BUNDLE in u]

    cell = open_cell(page, 2)
    code_of(cell)
    open_cell(page, 1)
    code_of(page.locator("#cell-1"))
    assert len([u for u in requested if BUNDLE in u]) == 1  # one load serves every cell
    expect(cell.locator(".cm-content")).to_have_text("base * 2")
    assert page.evaluate("window.__cspViolations") == []


def test_edit_run_see_output_and_a_figure_then_reset(page, answer_url):
    page.goto(answer_url)
    cell = open_cell(page, 2)
    code = write_code(cell, "print(base + 1)")
    cell.get_by_role("button", name="Run").click()
    result = cell.locator("[data-try-result]")
    expect(result.locator(".try-outcome__status")).to_contain_text("Ran without error", timeout=30_000)
    expect(result.locator(".try-outcome__stdout code")).to_have_text("21")
    expect(result.locator(".try-outcome__verified code")).to_have_text("40")
    expect(result.locator(".diff-line--added")).to_have_text("+ 21")

    write_code(cell, "import matplotlib.pyplot as plt\nplt.plot([base, 1, 3])\nplt.title('mine')\nplt.show()")
    cell.get_by_role("button", name="Run").click()
    figure = result.locator("figure img")
    expect(figure).to_have_attribute("alt", "Figure 1 drawn by your version of cell 2: mine", timeout=30_000)
    assert figure.evaluate("img => img.complete && img.naturalWidth > 100")

    cell.get_by_role("button", name="Reset").click()
    expect(code).to_have_value("base * 2")
    expect(cell.locator(".cm-content")).to_have_text("base * 2")
    expect(result).to_be_empty()


def test_the_editor_works_from_the_keyboard_alone(page, answer_url):
    page.goto(answer_url)
    summary = page.locator("#cell-2 summary")
    summary.focus()
    page.keyboard.press("Enter")
    cell = page.locator("#cell-2")
    code_of(cell)
    page.keyboard.press("Tab")
    editing = cell.locator(".cm-content")
    expect(editing).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("print(base + 2)")
    expect(cell.locator("textarea.try__code")).to_have_value("print(base + 2)")
    page.keyboard.press("Tab")  # Tab leaves the editor (it does not indent)
    expect(cell.get_by_role("button", name="Run")).to_be_focused()
    page.keyboard.press("Enter")
    expect(cell.locator(".try-outcome__stdout code")).to_have_text("22", timeout=30_000)


def test_an_exception_shows_its_traceback_in_place(page, answer_url):
    page.goto(answer_url)
    cell = open_cell(page, 2)
    write_code(cell, "undefined_name")
    cell.get_by_role("button", name="Run").click()
    expect(cell.locator(".try-outcome__status")).to_contain_text("raised an exception", timeout=30_000)
    expect(cell.locator(".cell__error code")).to_contain_text("NameError")


def test_the_form_posts_without_javascript(browser, answer_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(answer_url)
        cell = open_cell(page, 2)
        cell.get_by_label(re.compile("Your version of cell 2")).fill("base - 1")
        cell.get_by_role("button", name="Run").click()
        expect(page.get_by_role("heading", name="Your run of cell 2")).to_be_visible()
        # The page refreshes itself (meta refresh) until the run is done.
        expect(page.locator(".try-outcome__status")).to_contain_text("Ran without error", timeout=30_000)
        expect(page.locator(".try-outcome__columns code").first).to_have_text("19")
        expect(page.get_by_label("Your version of cell 2")).to_have_value("base - 1")
    finally:
        context.close()


def test_two_readers_at_once_each_see_only_their_own_run(browser, answer_url):
    contexts = [browser.new_context(), browser.new_context()]
    try:
        pages = [c.new_page() for c in contexts]
        for n, page in enumerate(pages):
            page.goto(answer_url)
            write_code(open_cell(page, 2), f"print('reader {n}')")
        for page in pages:
            page.locator("#cell-2").get_by_role("button", name="Run").click()
        for n, page in enumerate(pages):
            expect(page.locator("#cell-2 .try-outcome__stdout code")).to_have_text(
                f"reader {n}", timeout=30_000
            )
        # Reader 1 asks for reader 0's run by its address: nothing there for another browser.
        status_urls = pages[0].evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
        url = next(u for u in status_urls if "/status" in u and "/try/" in u)
        reply = pages[1].request.get(url)
        assert reply.status == 404
        assert "reader 0" not in reply.text()
    finally:
        for context in contexts:
            context.close()


def test_an_empty_bucket_is_a_429_message_in_the_page(page, answer_url):
    client = limits.client_hash(address="127.0.0.1")
    while limits.bucket_take(client=client).allowed:
        pass
    page.goto(answer_url)
    cell = open_cell(page, 2)
    with page.expect_response(re.compile("/cells/2/try/")) as response:
        cell.get_by_role("button", name="Run").click()
    assert response.value.status == 429
    assert int(response.value.headers["retry-after"]) >= 1
    expect(cell.get_by_role("alert")).to_contain_text("Please wait")


def test_axe_finds_nothing_with_the_editor_open_and_a_result_shown(browser, answer_url):
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(answer_url)
        cell = open_cell(page, 2)
        code_of(cell)
        cell.get_by_role("button", name="Run").click()
        expect(cell.locator(".try-outcome__status")).to_contain_text("Ran without error", timeout=30_000)
        assert axe_violations(page) == []
    finally:
        context.close()
