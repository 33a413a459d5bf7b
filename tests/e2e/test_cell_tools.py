"""The tools on a cell, on an article written for them and verified by a real worker: a long
output collapsed behind "Show all", wrap and copy, the author's alt text and caption, and the
"Run again" limit message shown where the reader is."""

import re

import pytest
from playwright.sync_api import expect

from answers.models import Answer
from tests.support.workers import wait_for

BODY = """## Tools

```python run
for i in range(40):
    print("line", i)
```

```python run
wide = "a very long line of code that goes on and on " * 6
len(wide)
```

```output
270
```

```python run alt="A rising straight line from 0 to 3" caption="The line y = x"
import matplotlib.pyplot as plt
plt.plot([0, 1, 2, 3])
```

## After
The end.
"""


@pytest.fixture
def tools_article(live_server, cpu_worker, make_question):
    question = make_question(title="Cell tools", slug="cell-tools", body=BODY)
    wait_for(lambda: Answer.objects.get(question=question).published_revision_id is not None, timeout=180)
    return live_server.url + "/questions/cell-tools/"


def test_long_output_collapses_behind_show_all(page, tools_article):
    page.goto(tools_article)
    output = page.locator("#cell-1 .cell__output pre")
    collapsed = output.evaluate("pre => pre.clientHeight")
    assert collapsed < output.evaluate("pre => pre.scrollHeight")
    show_all = page.locator("#cell-1").get_by_role("button", name="Show all 40 lines")
    expect(show_all).to_have_attribute("aria-expanded", "false")
    show_all.click()
    expect(page.locator("#cell-1").get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )
    assert output.evaluate("pre => pre.clientHeight >= pre.scrollHeight")


def test_wrap_toggle_wraps_long_code_lines(page, tools_article):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(tools_article)
    code = page.locator("#cell-2 .cell__code pre")
    assert code.evaluate("pre => pre.scrollWidth > pre.clientWidth")
    wrap = page.locator("#cell-2").get_by_role("button", name="Wrap long lines")
    wrap.click()
    expect(wrap).to_have_attribute("aria-pressed", "true")
    assert code.evaluate("pre => pre.scrollWidth <= pre.clientWidth + 1")


def test_copy_button_on_an_output_copies_the_output(page, tools_article):
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=tools_article.split("/questions")[0]
    )
    page.goto(tools_article)
    page.locator("#cell-2").get_by_role("button", name="Copy output to clipboard").click()
    expect(page.locator("#cell-2").get_by_role("button", name="Copy output to clipboard")).to_have_text(
        "Copied"
    )
    assert page.evaluate("navigator.clipboard.readText()").strip() == "270"


def test_figure_uses_the_authors_alt_text_and_caption(page, tools_article):
    page.goto(tools_article)
    figure = page.locator("#cell-3 figure")
    expect(figure.get_by_role("img", name="A rising straight line from 0 to 3")).to_be_visible()
    expect(figure.locator("figcaption")).to_contain_text("The line y = x")


def test_run_again_past_its_limit_shows_the_message_where_the_reader_is(page, tools_article):
    for _ in range(3):
        page.goto(tools_article)
        page.get_by_role("button", name="Run again").click()
        expect(page).to_have_url(re.compile(r"/reproductions/\d+/$"))
    page.goto(tools_article)
    page.get_by_role("button", name="Run again").click()
    message = page.locator("#messages .notice--warning")
    expect(message).to_contain_text(re.compile("times every|busy"))
    expect(message).to_be_in_viewport()
