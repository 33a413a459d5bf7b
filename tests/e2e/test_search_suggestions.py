"""The search box's suggestions in Chromium: the ARIA combobox by keyboard, under the site's
CSP, with axe at zero; and without JavaScript the box is an ordinary form."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.reading.test_accessibility import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)

POOL = "## Pooling\n\nMax pooling keeps the largest activation in each window.\n"


@pytest.fixture
def pooling_site(live_server, make_question):
    for title in ["Max pooling in one page", "Average pooling or max pooling", "Pooling and strides"]:
        make_question(title=title, body=POOL)
    make_question(title="Pooling draft nobody may see", body=POOL, published=False)
    make_question(title="What a convolution sees", body="## Field\n\nThe receptive field grows.\n")
    return live_server.url


def test_suggestions_by_keyboard_then_the_plain_form_and_axe(browser, pooling_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(pooling_site + "/")
    # Until the reader focuses it the box is a plain search box: the suggestions are set up on
    # the first focus, so the page's load owes nothing to them.
    page.get_by_role("searchbox", name="Search questions").focus()
    box = page.get_by_role("combobox", name="Search questions")
    box.press_sequentially("poolin", delay=30)
    listbox = page.get_by_role("listbox", name="Suggested questions")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_count(3)
    expect(listbox).not_to_contain_text("draft")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    first_id = options.nth(0).get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    box.press("ArrowUp")
    box.press("ArrowUp")  # wraps to the last
    expect(box).to_have_attribute("aria-activedescendant", options.nth(2).get_attribute("id"))
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("poolin")
    box.press("ArrowDown")  # opens again
    expect(listbox).to_be_visible()
    box.press("ArrowDown")
    chosen = options.nth(0).inner_text()
    box.press("Enter")
    expect(page.get_by_role("heading", name=chosen, level=1)).to_be_visible()

    # Enter with no suggestion chosen submits the ordinary search form; a typo is corrected.
    page.get_by_role("searchbox", name="Search questions").focus()
    box = page.get_by_role("combobox", name="Search questions")
    box.fill("recepetive feild")
    box.press("Enter")
    expect(page.get_by_text("Showing results for")).to_be_visible()
    expect(page.get_by_role("link", name="What a convolution sees")).to_be_visible()
    page.get_by_role("link", name="recepetive feild").click()
    expect(page.get_by_text("0 results")).to_be_visible()
    assert errors == []  # nothing refused by the CSP, no script error
    context.close()

    # axe, with the suggestions open and on a corrected results page.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(pooling_site + "/search/?q=convlution")
    expect(page.get_by_text("Showing results for")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("searchbox", name="Search questions").focus()
    page.get_by_role("combobox", name="Search questions").fill("max pool")
    suggestions = page.get_by_role("listbox", name="Suggested questions")
    expect(suggestions.get_by_role("option").first).to_be_visible()
    page.get_by_role("combobox", name="Search questions").press("ArrowDown")
    assert axe_violations(page) == []
    context.close()

    # Without JavaScript: an ordinary search box and form.
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(pooling_site + "/")
    box = page.get_by_role("searchbox", name="Search questions")
    box.fill("max pool")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=max\+pool$"))
    expect(page.get_by_role("link", name="Max pooling in one page")).to_be_visible()
    context.close()
