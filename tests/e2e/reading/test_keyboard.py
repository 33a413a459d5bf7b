"""Keyboard only: every control reachable with Tab and visibly focused; the consent panel and
the table of contents usable without a mouse."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db

FLAGSHIP = "/questions/deep-learning-vs-cnn/"

# Every element a keyboard user should reach, visible on the page.
_FOCUSABLES = """() => [...document.querySelectorAll(
  'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea, '
  + 'summary, [tabindex="0"]')].filter(el => {
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden'
    && !el.closest('[hidden], [aria-hidden=true]') && !el.closest('details:not([open]) > :not(summary)');
}).map((el, i) => { el.dataset.kbKey = 'k' + i; return 'k' + i; })"""

_FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (!el.dataset.kbKey) el.dataset.kbKey = 'extra' + document.querySelectorAll('[data-kb-key]').length;
  const s = getComputedStyle(el);
  const outlined = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return [el.dataset.kbKey, outlined || s.boxShadow !== 'none'];
}"""


def _tab_through(page, limit: int = 400) -> tuple[set[str], list[str]]:
    """Press Tab until focus comes back round; the keys reached and those without a visible ring."""
    reached, unmarked = set(), []
    page.locator("body").focus()
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(_FOCUS_STATE)
        if state is None:
            break
        key, visible = state
        if key in reached:
            break
        reached.add(key)
        if not visible:
            unmarked.append(key)
    return reached, unmarked


@pytest.mark.parametrize("path", ["/", FLAGSHIP, "/questions/", "/demo/"])
def test_every_control_is_reachable_by_tab_and_visibly_focused(page, seeded_all, path):
    page.goto(seeded_all + path)
    page.get_by_role("button", name="Reject all").click()  # the consent panel has its own test
    expected = set(page.evaluate(_FOCUSABLES))
    reached, unmarked = _tab_through(page)
    missing = expected - reached
    describe = (
        "() => [...document.querySelectorAll('[data-kb-key]')]"
        ".map(e => [e.dataset.kbKey, e.outerHTML.slice(0, 90)])"
    )
    names = dict(page.evaluate(describe))
    assert not missing, [names.get(key, key) for key in missing]
    assert not unmarked, [names.get(key, key) for key in unmarked]


def test_consent_panel_works_with_the_keyboard_alone(page, seeded_all):
    page.goto(seeded_all + FLAGSHIP)
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    page.locator("body").focus()
    for _ in range(10):  # the panel comes first in the page, after the skip link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#consent-banner') !== null"):
            break
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused in {"How we use cookies", "Accept all"}
    while page.evaluate("document.activeElement.tagName") != "SUMMARY":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Customise opens
    analytics = page.get_by_role("checkbox", name="Analytics")
    expect(analytics).to_be_visible()
    page.keyboard.press("Tab")
    expect(analytics).to_be_focused()
    page.keyboard.press("Space")
    expect(analytics).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save my choices")).to_be_focused()
    page.keyboard.press("Enter")
    expect(banner).to_be_hidden()
    assert any(c["name"].startswith("consent") or "consent" in c["name"] for c in page.context.cookies())


def test_table_of_contents_works_with_the_keyboard_alone_on_a_phone(browser, seeded_all):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(seeded_all + FLAGSHIP)
        page.get_by_role("button", name="Reject all").click()
        summary = page.get_by_role("navigation", name="On this page").locator("summary")
        page.locator("body").focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.tagName") == "SUMMARY":
                break
        expect(summary).to_be_focused()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        target = page.evaluate("document.activeElement.getAttribute('href')")
        assert target and target.startswith("#")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(re.escape(target) + "$"))
        expect(page.locator(f"[id='{target[1:]}']")).to_be_in_viewport()
    finally:
        context.close()
