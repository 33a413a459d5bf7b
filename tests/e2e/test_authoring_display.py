"""What readers see of authored content: expected exceptions, tracebacks, heading anchors and
summaries. Real Chromium, live server, real worker processes."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from answers.models import Answer
from tests.support.workers import wait_for

ROOT = Path(__file__).resolve().parents[2]

RAISES = """## Shapes that do not fit

```python run raises=RuntimeError
import torch
torch.nn.Linear(4, 2)(torch.ones(3))
```

```python run raises=ValueError
import json
json.loads("{")
```
"""


@pytest.mark.slow
def test_expected_exception_reads_as_passed_with_a_package_relative_traceback(
    page, live_server, cpu_worker, make_question, artifacts_dir
):
    make_question(title="Shapes", slug="shapes", body=RAISES)
    wait_for(lambda: Answer.objects.filter(question__slug="shapes", published_revision__isnull=False), 180)
    page.goto(live_server.url + "/questions/shapes/")

    cells = page.locator(".cell")
    expect(cells.nth(0).locator(".cell__status")).to_contain_text("Passed · raised RuntimeError as expected")
    expect(cells.nth(1).locator(".cell__status")).to_contain_text("Passed · raised ValueError as expected")
    for index in (0, 1):
        expect(cells.nth(index).locator(".cell__status")).not_to_contain_text("output matches")
        expect(cells.nth(index).locator(".cell__error")).to_have_count(0)
    raised = cells.nth(0).locator(".cell__raised")
    expect(raised).to_contain_text("Raised as expected")
    expect(raised).to_contain_text('File "torch/nn/modules/linear.py", line')
    expect(cells.nth(1).locator(".cell__raised")).to_contain_text('File "json/decoder.py", line')
    for private in ("site-packages", "/usr/lib/python3", str(ROOT)):
        expect(page.locator("main")).not_to_contain_text(private)
    # The traceback sits in the same scrolling pre as outputs: long lines scroll, not clipped.
    overflow = raised.locator("pre").evaluate("e => getComputedStyle(e).overflowX")
    assert overflow in ("auto", "scroll")
    raised.screenshot(path=str(artifacts_dir / "raises-cell.png"))


BATCH_NORM_HEADINGS = "\n\n".join(
    line
    for line in (ROOT / "content" / "batch-normalisation.md").read_text().splitlines()
    if line.startswith("## ")
)


def test_table_of_contents_links_to_headings_with_greek_letters(page, live_server, make_question):
    make_question(title="Batch norm headings", slug="bn-headings", body=BATCH_NORM_HEADINGS + "\n")
    page.goto(live_server.url + "/questions/bn-headings/")
    toc = page.get_by_role("navigation", name="On this page")
    link = toc.get_by_role("link", name="The learnable γ and β, and the running statistics")
    if not link.is_visible():  # a table of contents that opens first (a phone layout)
        toc.locator("summary").click()
    link.click()
    expect(page).to_have_url(re.compile(r"#the-learnable-gamma-and-beta-and-the-running-statistics$"))
    heading = page.get_by_role("heading", name="The learnable γ and β, and the running statistics")
    expect(heading).to_have_attribute("id", "the-learnable-gamma-and-beta-and-the-running-statistics")
    expect(heading).to_be_in_viewport()
    ids = page.locator("[id]").evaluate_all("es => es.map(e => e.id)")
    assert len(ids) == len(set(ids))
    toc_targets = toc.get_by_role("link").evaluate_all("as => as.map(a => decodeURI(a.hash.slice(1)))")
    assert len(toc_targets) == BATCH_NORM_HEADINGS.count("## ") and set(toc_targets) <= set(ids)
