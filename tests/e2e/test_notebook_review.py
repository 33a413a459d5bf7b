"""Start from a notebook in Chromium: the upload keeps its stored outputs, the review shows which
cells match them once the import's run has finished, a suggestion is applied from the keyboard,
the page holds under the CSP and axe finds nothing. Real worker, Redis and PostgreSQL."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.reading.test_accessibility import axe_violations
from tests.e2e.test_verified_answers import staff_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "answers" / "notebooks" / "stored_outputs.ipynb"


def _reload_until(page, text: str, seconds: int = 90) -> None:
    for _ in range(seconds):
        if page.get_by_text(text).count():
            return
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.get_by_text(text)).to_be_visible()


def test_import_review_and_apply_a_suggestion(staff_page, live_server, cpu_worker, browser):  # noqa: F811
    page = staff_page
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(live_server.url + "/admin/kb/question/import-notebook/")
    expect(page.get_by_label("Keep stored outputs as expected outputs")).to_be_checked()
    expect(page.get_by_label("Keep stored images as approved figures")).not_to_be_checked()
    page.get_by_label("Notebook:").set_input_files(str(NOTEBOOK))
    page.get_by_role("button", name="Import").click()

    expect(
        page.get_by_role("heading", name="Review the imported notebook: Stored outputs from Jupyter")
    ).to_be_visible()
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("8 stored output(s) kept as expected outputs")
    expect(messages).to_contain_text("took 45.5 s in Jupyter; timeout=140 proposed")
    _reload_until(page, "Matching their stored output")
    expect(page.get_by_role("status")).to_contain_text(
        "Matching their stored output: 5 · differing: 4 · failed: 0 · ran with nothing to compare: 2."
    )
    cell3 = page.get_by_role("region", name=re.compile(r"^Cell 3 "))
    expect(cell3).to_contain_text("Differs from its stored output")
    expect(cell3.locator("pre")).to_contain_text("-<__main__.Thing object at 0x7f3a2c1d9e50>")
    expect(cell3).to_contain_text("differ only in memory addresses")
    # the real difference ("hullo" against "hello") is shown, with nothing to click
    last = page.get_by_role("region", name=re.compile(r"^Cell 11 "))
    expect(last.locator("pre")).to_contain_text("+hello")
    expect(last.get_by_role("button")).to_have_count(0)

    review_url = page.url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        context.add_cookies(page.context.cookies())
        checker = context.new_page()
        checker.goto(review_url)
        assert axe_violations(checker) == []
    finally:
        context.close()

    button = page.get_by_role("button", name="Write ... for the addresses in cell 3")
    button.focus()
    page.keyboard.press("Enter")
    expect(messages).to_contain_text("Cell 3: write ... for the addresses; the answer is running again.")
    _reload_until(page, "Matching their stored output: 6")
    expect(page.get_by_role("region", name=re.compile(r"^Cell 3 "))).to_contain_text(
        "Matches its stored output"
    )
    page.get_by_role("link", name="the question's page").click()
    expect(page.locator("#id_answer-0-body")).to_have_value(re.compile(r"<__main__\.Thing \.\.\.>"))
    assert blocked == []
