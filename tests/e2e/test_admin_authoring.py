"""Staff authoring in the admin, in Chromium: a readable per-cell status,
a preview that leaves the admin's look alone, and help that explains cells and options."""

import pytest
from playwright.sync_api import expect

from tests.e2e.answer_body import fill_answer_body

pytestmark = pytest.mark.slow

BODY = """## Sum

```python run
1 + 1
```

```output
2
```
"""

# WCAG relative luminance and contrast, computed in the page from the colours it really uses.
CONTRAST_JS = """
element => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let node = element, background = null;
  while (node && !background) {
    const colour = getComputedStyle(node).backgroundColor;
    if (rgb(colour).length < 4 || rgb(colour)[3] > 0) background = colour;
    node = node.parentElement;
  }
  const [a, b] = [lum(rgb(getComputedStyle(element).color)), lum(rgb(background || "rgb(255,255,255)"))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""


@pytest.fixture
def staff_page(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("editor", "editor@example.com", "A-long-pass-phrase-1")
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("A-long-pass-phrase-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_cell_status_line_is_readable_and_preview_keeps_the_admin_look(
    staff_page, live_server, cpu_worker, scheme, artifacts_dir
):
    page = staff_page
    page.emulate_media(color_scheme=scheme)
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("Adding numbers")
    fill_answer_body(page, BODY)
    page.get_by_role("button", name="Save and continue editing").click()
    line = page.locator(".kb-run-progress li").first
    expect(line).to_contain_text("Cell 1 (line 3): Passed", timeout=60_000)
    assert line.evaluate(CONTRAST_JS) >= 4.5
    page.screenshot(path=str(artifacts_dir / f"admin-cell-status-{scheme}.png"), full_page=True)

    header_before = page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor")
    page.get_by_role("link", name="Preview the rendered answer").click()
    expect(page.locator("#header")).to_have_css("background-color", header_before)
    stylesheets = page.evaluate("[...document.styleSheets].map(s => s.href || '')")
    assert not any("/static/css/site." in href for href in stylesheets)
    expect(page.locator("h1", has_text="Adding numbers")).to_have_count(0)  # only the frame's title
    expect(page.locator("#content h1")).to_have_text("Preview")
    frame = page.frame_locator(".kb-preview-frame")
    expect(frame.get_by_role("heading", name="Adding numbers", level=1)).to_have_count(1)
    expect(frame.locator(".cell__output").first).to_contain_text("2")
    page.screenshot(path=str(artifacts_dir / f"admin-preview-{scheme}.png"), full_page=True)


def test_answer_help_explains_output_blocks_and_options_and_opens_the_reference(
    staff_page, live_server, artifacts_dir
):
    page = staff_page
    page.goto(live_server.url + "/admin/kb/question/add/")
    help_text = page.locator(".field-body .help, .field-body .helptext").first
    for needle in ("```output", "timeout=", "raises=ValueError", "tol=", "hide=true", "device=cuda"):
        expect(help_text).to_contain_text(needle)
    with page.context.expect_page() as opened:
        help_text.get_by_role("link", name="authoring reference").click()
    reference = opened.value
    expect(reference.get_by_role("heading", name="Writing verified answers", level=1)).to_be_visible()
    expect(reference.get_by_role("cell", name="figure_mismatch", exact=True)).to_be_visible()
    reference.screenshot(path=str(artifacts_dir / "admin-authoring-reference.png"), full_page=True)
