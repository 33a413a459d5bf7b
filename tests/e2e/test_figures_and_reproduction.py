"""Approved figures in the browser: staff approve a figure, break it with an edit, see the difference and
approve again; a cell that reads the clock is caught as nondeterministic. Real Chromium, live
server, a real worker (two fork servers), Redis and PostgreSQL."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.answer_body import fill_answer_body
from tests.e2e.test_verified_answers import staff_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

PLOT = """## A plot

```python run
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 10, 50)
fig, ax = plt.subplots()
ax.plot(x, np.roll(np.sin(x), 0), label="sin")
ax.legend()
```
"""


def _save(page, body):
    fill_answer_body(page, body)
    page.get_by_role("button", name="Save and continue editing").click()


def test_approve_break_see_the_diff_and_approve_again(staff_page, live_server, cpu_worker, browser):  # noqa: F811
    page = staff_page
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("A plotted answer")
    page.get_by_label("Status:").select_option("published")
    _save(page, PLOT)
    expect(page.locator(".kb-run-progress__label")).to_contain_text("Verified", timeout=90_000)
    change_url = page.url

    page.get_by_role("link", name="Figures and reproducibility").click()
    expect(page.get_by_role("heading", name=re.compile("Figure 1: not approved"))).to_be_visible()
    page.get_by_role("button", name="Approve this figure 1 of cell 1").click()
    expect(page.locator(".messagelist")).to_contain_text("approved; the answer is running again")
    for _ in range(60):  # the page says when the new run has finished: reload until it does
        if page.get_by_text("matches the approved figure").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(
        page.get_by_role("heading", name=re.compile("Figure 1: matches the approved figure"))
    ).to_be_visible()

    reader = browser.new_page()
    reader.goto(live_server.url + "/questions/a-plotted-answer/")
    expect(reader.locator(".cell__figure-check")).to_have_text("Figure 1 matches the approved figure")
    expect(reader.locator(".provenance summary")).to_contain_text("figures: 1 of 1 approved, all match")

    page.goto(change_url)
    _save(page, PLOT.replace("np.roll(np.sin(x), 0)", "np.roll(np.sin(x), 1)"))
    expect(page.locator(".kb-run-progress__label")).to_contain_text("Failed", timeout=90_000)
    expect(page.locator(".kb-run-progress li").first).to_contain_text("Figure differs from the approved one")
    page.get_by_role("link", name="Figures and reproducibility").click()
    expect(page.locator("img.kb-approved")).to_be_visible()
    expect(page.locator("img.kb-new")).to_be_visible()
    expect(page.locator("img.kb-diff")).to_be_visible()
    reader.reload()
    expect(reader.locator(".cell__figure-check")).to_have_text("Figure 1 matches the approved figure")

    page.get_by_role("button", name="Approve the new figure 1 of cell 1").click()
    for _ in range(60):
        if page.get_by_text("Figure 1: matches the approved figure").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator(".kb-cell-status")).to_have_text("Ran")
    expect(page.locator(".kb-approval-history tbody tr")).to_have_count(2)  # both approvals kept
    reader.reload()
    expect(reader.locator(".provenance summary")).to_contain_text("reproduced 2/2")
    reader.close()


def test_a_cell_that_reads_the_clock_is_caught_as_nondeterministic(staff_page, live_server, cpu_worker):  # noqa: F811
    page = staff_page
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("What time is it")
    _save(page, "```python run\nimport time\nprint(time.time())\n```\n")
    expect(page.locator(".kb-run-progress__label")).to_contain_text("Failed", timeout=90_000)
    expect(page.locator(".kb-run-progress li").first).to_contain_text("Differs between two runs")
    page.get_by_role("link", name="Figures and reproducibility").click()
    expect(page.get_by_role("heading", name="The two runs disagree")).to_be_visible()
    expect(page.locator(".kb-output-diff")).to_contain_text("--- first run")
