"""Run cells while writing, in Chromium: a staff member writes a new three-cell answer (a printed
value, a figure, an expected output taken from the run) and sees every output under its cell in
the preview before saving once; "Use as expected output" writes the output block; a changed
expected output shows its diff and the option that absorbs it. Real live server, `try` worker,
Redis and PostgreSQL. Run → output timings are printed (bench/README.md), not asserted."""

import statistics

import pytest
from playwright.sync_api import expect

from answers.cells import parse_answer
from kb.models import Question
from tests.e2e.answer_body import fill_answer_body
from tests.e2e.reading.test_accessibility import AXE, WCAG_21_AA, settle_transitions
from tests.e2e.test_answer_editor import PASSWORD, _sign_in

pytestmark = pytest.mark.slow

THREE_CELLS = """## Three cells

```python run
rate = 0.25
print("rate:", rate)
```

```python run
import matplotlib.pyplot as plt
plt.plot([0, 1, 2], [0, rate, 2 * rate])
plt.title("Rate line")
plt.show()
```

```python run
[round(rate * n, 2) for n in range(4)]
```
"""
TIMED_RUNS = 12


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("author", "author@example.com", PASSWORD)


def _cell(page, number: int):
    return page.locator(f".kb-answer-editor__rendered #cell-{number}")


def _run_and_wait(page, number: int, scope_label: str | None = None) -> int:
    cell = _cell(page, number)
    panel = cell.locator(".kb-draft-run")
    cell.get_by_role("button", name=scope_label or f"Run cell {number}").click()
    page.wait_for_function(
        "n => document.querySelector(`[data-draft-run-cell='${n}']`)?.hasAttribute('data-draft-run-ms')",
        arg=number,
        timeout=60_000,
    )
    return int(panel.get_attribute("data-draft-run-ms"))


def test_a_new_three_cell_answer_shows_every_output_before_it_is_saved(
    browser, live_server, try_worker, staff
):
    context = browser.new_context(bypass_csp=False, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/kb/question/add/")
        fill_answer_body(page, THREE_CELLS)
        expect(_cell(page, 3).get_by_role("button", name="Run cells 1–3")).to_be_visible()

        _run_and_wait(page, 1)
        expect(_cell(page, 1).locator(".kb-draft-run__output")).to_have_text("Outputrate: 0.25")
        expect(_cell(page, 1).locator(".kb-draft-run__status")).to_contain_text("Cell 1: Ran in")

        _run_and_wait(page, 2, "Run cells 1–2")
        figure = _cell(page, 2).locator(".kb-draft-run__figure img")
        expect(figure).to_have_attribute("alt", "Rate line")
        assert page.evaluate("img => img.complete && img.naturalWidth > 100", figure.element_handle())
        expect(_cell(page, 1).locator(".kb-draft-run__output")).to_contain_text("rate: 0.25")  # shown again

        _run_and_wait(page, 3)
        expect(_cell(page, 3).locator(".kb-draft-run__output")).to_contain_text("[0.0, 0.25, 0.5, 0.75]")
        _cell(page, 3).get_by_role("button", name="Use as expected output").click()
        expect(_cell(page, 3).locator(".kb-draft-run__status")).to_contain_text("Save to keep it")
        body = page.locator("#id_answer-0-body")
        page.wait_for_function(
            "() => document.querySelector('#id_answer-0-body').value.includes('```output')"
        )
        cells = parse_answer(body.input_value()).cells
        assert cells[2].expected == "[0.0, 0.25, 0.5, 0.75]" and cells[0].expected is None
        # The preview re-renders with the expected output and keeps the run's panel.
        expect(_cell(page, 3).locator(".cell__expected")).to_contain_text("[0.0, 0.25, 0.5, 0.75]")
        expect(_cell(page, 3).locator(".kb-draft-run__output")).to_contain_text("[0.0, 0.25, 0.5, 0.75]")
        assert not Question.objects.exists(), "nothing is saved before the author saves"

        # The expected output edited by hand to digits a run will not print: the diff, and tol=.
        fill_answer_body(
            page, body.input_value().replace("[0.0, 0.25, 0.5, 0.75]\n", "[0.0, 0.2500001, 0.5, 0.75]\n")
        )
        expect(_cell(page, 3).locator(".cell__expected")).to_contain_text("0.2500001")
        _run_and_wait(page, 3)
        expect(_cell(page, 3).locator(".kb-draft-run__compared--differs")).to_be_visible()
        expect(_cell(page, 3).locator(".kb-draft-run__diff-removed")).to_contain_text("0.2500001")
        _cell(page, 3).get_by_role("button", name="Add tol=").click()
        page.wait_for_function(
            "() => /python run tol=/.test(document.querySelector('#id_answer-0-body').value)"
        )

        timings = [_run_and_wait(page, 1) for _ in range(TIMED_RUNS)]
        print(
            f"\nRun -> output under the cell (editor, 1 cell, warm pool): "
            f"p50 {statistics.median(timings)} ms, max {max(timings)} ms over {TIMED_RUNS} runs: {timings}"
        )

        page.get_by_label("Title:").fill("Three cells")
        page.get_by_role("button", name="Save and continue editing").click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        saved = parse_answer(Question.objects.get(title="Three cells").answer.body).cells
        assert saved[2].expected == "[0.0, 0.2500001, 0.5, 0.75]" and saved[2].options.tol is not None
    finally:
        context.close()


def test_run_buttons_work_from_the_keyboard_and_axe_finds_nothing_on_the_whole_page(
    browser, live_server, try_worker, staff
):
    for scheme in ("light", "dark"):
        context = browser.new_context(
            bypass_csp=True, color_scheme=scheme, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            _sign_in(page, live_server.url)
            page.goto(live_server.url + "/admin/kb/question/add/")
            fill_answer_body(page, THREE_CELLS.replace("rate = 0.25", "rate = 0.25\nprint(undefined_name)"))
            run = _cell(page, 3).get_by_role("button", name="Run cell 3")
            run.focus()
            page.keyboard.press("Enter")
            status = _cell(page, 1).locator(".kb-draft-run__status")
            expect(status).to_contain_text("Cell 1: Raised an exception")
            expect(_cell(page, 1).locator(".kb-draft-run__error")).to_contain_text("NameError")
            expect(_cell(page, 3).locator(".kb-draft-run__status")).to_contain_text(
                "A cell above it failed first"
            )
            page.add_script_tag(path=str(AXE))
            settle_transitions(page)
            # The whole add page: Django's own widgets (filter_horizontal, the data files'
            # tabular inline, help texts) with the editor, its preview and a run's results.
            result = page.evaluate("o => axe.run(document, o)", WCAG_21_AA)
            assert [v["id"] + ": " + v["help"] for v in result["violations"]] == [], scheme
        finally:
            context.close()
