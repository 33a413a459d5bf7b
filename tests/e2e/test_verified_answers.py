"""Staff author and publish a verified answer; readers see it, run it again, and never see a
failing revision. Real Chromium, live server, real worker processes and Redis."""

import re

import pytest
from playwright.sync_api import expect

from answers.models import Answer
from tests.e2e.answer_body import fill_answer_body

pytestmark = pytest.mark.slow

CELLS = """## Parameters of a convolution

```python run
import torch
conv = torch.nn.Conv2d(3, 16, kernel_size=3)
sum(p.numel() for p in conv.parameters())
```

```output
448
```

```python run
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
```
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


def _answer_verified(slug):
    answer = Answer.objects.select_related("run").filter(question__slug=slug).first()
    return answer is not None and answer.run is not None and answer.run.is_finished


def test_staff_write_watch_progress_publish_and_a_reader_sees_the_badge(
    staff_page, live_server, cpu_worker, browser, artifacts_dir
):
    page = staff_page
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("How many parameters does a convolution have?")
    page.get_by_label("Summary:").fill("Counted by a real run.")
    fill_answer_body(page, CELLS)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    progress = page.locator(".kb-run-progress")
    expect(progress.locator(".kb-run-progress__label")).to_contain_text(
        "Verified — cell 2 of 2", timeout=60_000
    )
    expect(progress.locator("li").first).to_contain_text("Cell 1 (line 3): Passed")
    expect(progress.locator("li").first).to_contain_text("448")
    # Each cell's line links to that cell's permalink in the preview of the current revision.
    second = progress.locator("li").nth(1).get_by_role("link", name="Cell 2")
    assert second.get_attribute("href").endswith("/preview/frame/#cell-2")
    second.click()
    expect(page.locator("#cell-2")).to_be_in_viewport()
    expect(page.locator("#cell-2 .cell__figure img")).to_be_visible()
    page.go_back()

    page.get_by_role("link", name="Preview the rendered answer").click()
    preview = page.frame_locator(".kb-preview-frame")
    expect(preview.locator(".cell__output").first).to_contain_text("448")
    figure = preview.locator(".cell__figure img")
    figure.scroll_into_view_if_needed()  # lazily loaded, below the frame's fold
    expect(figure).to_be_visible()
    assert figure.evaluate("img => img.naturalWidth") > 0

    page.go_back()
    page.get_by_label("Status:").select_option("published")
    page.get_by_role("button", name="Save", exact=True).click()

    reader = browser.new_page()
    reader.goto(live_server.url + "/questions/how-many-parameters-does-a-convolution-have/")
    expect(reader.locator(".provenance summary")).to_contain_text(
        re.compile(r"Verified .* torch 2\.13\.0.* 2 cells")
    )
    expect(reader.locator(".cell__output").first).to_contain_text("448")
    expect(reader.locator(".cell__figure img")).to_be_visible()
    reader.screenshot(path=str(artifacts_dir / "verified-answer.png"), full_page=True)

    reader.get_by_role("button", name="Run again").click()
    expect(reader.get_by_role("heading", name=re.compile("Fresh run of"))).to_be_visible()
    expect(reader.get_by_text("Every output matches")).to_be_visible(timeout=60_000)
    expect(reader.locator(".match--same")).to_have_count(2)
    reader.close()


def test_a_failing_revision_leaves_the_readers_page_unchanged(staff_page, live_server, cpu_worker, browser):
    page = staff_page
    page.goto(live_server.url + "/admin/kb/question/add/")
    page.get_by_label("Title:").fill("Stable answer")
    page.get_by_label("Status:").select_option("published")
    fill_answer_body(page, CELLS)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".kb-run-progress__label")).to_contain_text("Verified", timeout=60_000)

    fill_answer_body(page, CELLS.replace("kernel_size=3", "kernel_size=5"))
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".kb-run-progress__label")).to_contain_text("Failed", timeout=60_000)
    expect(page.locator(".kb-run-progress li").first).to_contain_text("Output differs")
    expect(page.locator(".kb-run-progress li").first).to_contain_text("1216")

    reader = browser.new_page()
    reader.goto(live_server.url + "/questions/stable-answer/")
    expect(reader.locator(".cell__output").first).to_contain_text("448")
    expect(reader.locator(".provenance summary")).to_contain_text("Verified")
    expect(reader.get_by_text("1216")).to_have_count(0)
    reader.close()
