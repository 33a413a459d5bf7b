"""A notebook's stored outputs, markers, timings and line separators as the import reads them,
and the suggestions that absorb addresses, float digits and random numbers. Pure: no database;
the notebooks are the small .ipynb files in tests/answers/notebooks/."""

import json
from pathlib import Path

import pytest

from answers.cells import parse_answer
from answers.notebook_import import NotebookError, notebook_import
from answers.notebook_outputs import cell_duration, proposed_timeout, stored_cell
from answers.output_suggestions import Suggestion, apply_suggestion, suggest
from runner.engine.compare import matches, terminal_text

NOTEBOOKS = Path(__file__).parent / "notebooks"


def _raw(name: str) -> bytes:
    return (NOTEBOOKS / f"{name}.ipynb").read_bytes()


def _cells(name: str):
    imported = notebook_import(_raw(name), keep_outputs=True, keep_figures=True)
    return imported, parse_answer(imported.markdown).cells


def test_stored_text_outputs_become_expected_outputs_and_markers_become_options():
    imported, cells = _cells("stored_outputs")
    assert imported.title == "Stored outputs from Jupyter"
    by_code = {cell.code.splitlines()[0]: cell for cell in cells}
    # stdout, then the last value's text/plain on its own line
    assert by_code["x = 40 + 2"].expected == "x is 42\n42"
    # "\r" folded as Jupyter shows it: only the last progress state is left
    assert by_code["for percent in (10, 50, 100):"].expected == "100%"
    # stderr is never part of the expected output
    assert by_code["import sys"].expected == "out"
    # Jupyter's raises-exception tag: raises= the stored error's name, no expected output
    assert by_code["1 / 0"].options.raises == "ZeroDivisionError" and by_code["1 / 0"].expected is None
    ignored = by_code["# NBVAL_IGNORE_OUTPUT"]
    assert ignored.options.nondeterministic and ignored.expected is None
    # the figure's text/plain ("<Figure size ...>") is not an expected output; its image is a figure
    figure_cell = by_code["import matplotlib.pyplot as plt"]
    assert figure_cell.expected is None
    assert list(imported.figures) == [(figure_cell.index, 0)]
    assert imported.figures[(figure_cell.index, 0)][:8] == b"\x89PNG\r\n\x1a\n"
    # NBVAL_SKIP: shown as display-only code, not a runnable cell
    assert "```python\n# NBVAL_SKIP\nwhile True:" in imported.markdown
    assert not any("NBVAL_SKIP" in cell.code for cell in cells)
    assert "Cell 10: NBVAL_SKIP, shown as code that is not run." in imported.notes
    # 45.5 s recorded in Jupyter: three times that, rounded up to 10 s
    assert by_code["total = sum(range(10))"].options.timeout == 140
    assert "Cell 11: took 45.5 s in Jupyter; timeout=140 proposed." in imported.notes
    assert imported.kept_outputs == 8 and len(cells) == 11
    # numbered as in the notebook, the title cell included
    assert imported.notebook_cells == [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]


def test_without_keeping_outputs_only_nbval_check_output_cells_keep_theirs():
    imported = notebook_import(_raw("line_separators"), keep_outputs=False, keep_figures=False)
    cells = parse_answer(imported.markdown).cells
    assert [cell.expected for cell in cells] == [None, None, "checked"]
    # NBVAL_RAISES_EXCEPTION: raises= from the stored error's ename
    assert cells[1].options.raises == "ValueError"
    assert notebook_import(_raw("stored_outputs"), keep_outputs=True, keep_figures=False).figures == {}


def test_line_separators_other_than_newline_are_imported_exactly():
    source = json.loads(_raw("line_separators"))["cells"][1]["source"]
    _, cells = _cells("line_separators")
    assert cells[0].code == source
    for character in "\u2028\x0b\x0c\x1c\x1d\x1e\x85":
        assert character in cells[0].code


def test_a_lone_carriage_return_in_code_is_refused_naming_cell_and_line():
    with pytest.raises(
        NotebookError, match=r"Cell 3, line 1: a carriage return \(\\r\) not followed by a newline"
    ):
        notebook_import(_raw("lone_carriage_return"))


def test_terminal_text_overwrites_like_jupyter():
    assert terminal_text("10%\r100%\n") == "100%\n"
    assert terminal_text("abcdef\rXY\n") == "XYcdef\n"  # the rest of the line stays, as in a terminal
    assert terminal_text("a\r\nb") == "a\nb"
    assert matches("100%", "\r10%\r50%\r100%\n") and not matches("10% 100%", "10%\r100%")


@pytest.mark.parametrize(
    ("metadata", "seconds"),
    [
        (
            {
                "execution": {
                    "iopub.execute_input": "2026-01-01T00:00:00Z",
                    "shell.execute_reply": "2026-01-01T00:02:00Z",
                }
            },
            120,
        ),
        ({"papermill": {"duration": 12.5}}, 12.5),
        (
            {
                "ExecuteTime": {
                    "start_time": "2026-01-01T00:00:00.000Z",
                    "end_time": "2026-01-01T00:00:01.500Z",
                }
            },
            1.5,
        ),
        ({"execution": {"iopub.execute_input": "junk", "shell.execute_reply": "2026-01-01T00:02:00Z"}}, None),
        (
            {
                "execution": {
                    "iopub.execute_input": "2026-01-01T00:02:00Z",
                    "shell.execute_reply": "2026-01-01T00:00:00Z",
                }
            },
            None,
        ),
        ({}, None),
    ],
)
def test_cell_duration_from_each_timing_format(metadata, seconds):
    assert cell_duration(metadata) == seconds


def test_proposed_timeouts_keep_the_default_for_short_cells_and_stop_at_the_cap():
    assert proposed_timeout(None) is None and proposed_timeout(5) is None
    assert proposed_timeout(107) == 330
    assert proposed_timeout(300) == 600  # a 300 s training cell: the cap, not 900


def test_a_notebook_longer_than_the_answer_cap_says_so():
    cells = [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "execution_count": 1,
            "outputs": [],
            "source": "x = 1",
            "metadata": {"papermill": {"duration": 250}},
        }
        for i in range(3)
    ]
    raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    imported = notebook_import(raw)
    assert [c.options.timeout for c in parse_answer(imported.markdown).cells] == [600, 600, 600]
    assert any(
        "took 750 s in Jupyter; an answer may run for at most 600 s in all" in note for note in imported.notes
    )


def test_stored_errors_without_a_tag_are_not_expected_and_display_text_is():
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": "display(1)",
        "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "1"}},
            {"output_type": "stream", "name": "stderr", "text": "warning\n"},
            {"output_type": "error", "ename": "KeyError", "evalue": "'a'", "traceback": []},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": "not base64!"}},
        ],
    }
    stored = stored_cell(cell)
    assert stored.text == "1\n" and stored.error_name == "KeyError" and stored.images == []


def test_suggestions_for_addresses_floats_and_random_numbers():
    address = suggest(
        status="mismatch",
        expected="<__main__.Thing at 0x7f3a2c1d9e50>",
        output="<__main__.Thing object at 0x7f5061e4e4d0>",
        code="Thing()",
        tol=None,
    )
    assert address.kind == "ellipsis" and address.expected == "<__main__.Thing ...>"
    assert matches(address.expected, "<__main__.Thing object at 0x55d1>")
    ids = suggest(
        status="mismatch", expected="id 140234567890123", output="id 139871234567890", code="", tol=None
    )
    assert ids.kind == "ellipsis"
    floats = suggest(
        status="mismatch", expected="1.0", output="0.9999999999999999", code="sum(...)", tol=None
    )
    assert floats.kind == "tol" and floats.option == "tol=1e-12"
    wider = suggest(status="mismatch", expected="loss 0.2500", output="loss 0.25002", code="", tol=None)
    assert wider.option == "tol=0.0001"
    drawn = suggest(
        status="mismatch",
        expected="[17, 72, 97]",
        output="[864, 394, 776]",
        code="import random\n[random.randint(0, 1000) for _ in range(3)]",
        tol=None,
    )
    assert drawn.kind == "nondeterministic" and drawn.drop_expected
    # two runs drawing differently (other global seeds) and numbers Jupyter drew: both fixed at once
    reseeded = suggest(status="nondeterministic", expected="[17, 72]", output="[8, 3]", code="f()", tol=None)
    assert reseeded.drop_expected and reseeded.option == "nondeterministic=true"
    twice = suggest(status="nondeterministic", expected=None, output="1", code="", tol=None)
    assert twice.option == "nondeterministic=true" and not twice.drop_expected
    # real differences get no suggestion
    assert suggest(status="mismatch", expected="hullo", output="hello", code="", tol=None) is None
    assert suggest(status="mismatch", expected="[1, 2]", output="[5, 9]", code="f()", tol=None) is None
    assert suggest(status="mismatch", expected="0.5", output="0.6", code="", tol=None) is None
    assert suggest(status="passed", expected="1", output="1", code="", tol=None) is None


BODY = """Intro.

```python run timeout=120
print(f"{1/3:.8f}")
```

```output
0.33333334
```

Between.

```python run
import random
random.random()
```

```output
0.123
```

Outro.
"""


def test_applying_a_suggestion_rewrites_only_that_cell():
    with_tol = apply_suggestion(BODY, cell_index=0, suggestion=Suggestion("tol", "", "", option="tol=1e-6"))
    assert with_tol == BODY.replace("```python run timeout=120", "```python run timeout=120 tol=1e-6")
    again = apply_suggestion(with_tol, cell_index=0, suggestion=Suggestion("tol", "", "", option="tol=1e-4"))
    assert "```python run timeout=120 tol=1e-4\n" in again and "1e-6" not in again
    dropped = apply_suggestion(
        BODY,
        cell_index=1,
        suggestion=Suggestion("nondeterministic", "", "", option="nondeterministic=true", drop_expected=True),
    )
    cells = parse_answer(dropped).cells
    assert cells[1].options.nondeterministic and cells[1].expected is None
    assert cells[0].expected == "0.33333334" and "Outro." in dropped and "0.123" not in dropped
    elided = apply_suggestion(
        BODY, cell_index=1, suggestion=Suggestion("ellipsis", "", "", expected="0.1...")
    )
    assert parse_answer(elided).cells[1].expected == "0.1..."
    fenced = apply_suggestion(
        BODY, cell_index=1, suggestion=Suggestion("ellipsis", "", "", expected="```\n...")
    )
    assert parse_answer(fenced).cells[1].expected == "```\n..." and len(parse_answer(fenced).cells) == 2


def test_ipython_lines_that_cannot_run_are_refused_per_cell_and_line_unless_skipped():
    def notebook(*sources):
        cells = [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "execution_count": 1,
                "outputs": [],
                "metadata": {},
                "source": s,
            }
            for i, s in enumerate(sources)
        ]
        return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()

    with pytest.raises(NotebookError) as refused:
        notebook_import(notebook("x = 1", "import os\n!ls -l\nprint(x)"))
    assert "Cell 2, line 2: `!ls -l` cannot run" in str(refused.value)
    skipped = notebook_import(notebook("# NBVAL_SKIP\n!pip install torch", "print(1)"))
    assert "!pip install torch" in skipped.markdown and len(parse_answer(skipped.markdown).cells) == 1
