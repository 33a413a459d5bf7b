"""The figure cell options figtol= and nondeterministic=, validated like the others."""

import base64
import json

import pytest

from answers.cells import parse_answer
from answers.notebooks import answer_to_notebook, notebook_approved_figures, notebook_to_markdown
from answers.rendering import render_answer


def _cell(info: str):
    return parse_answer(f"```python {info}\nprint(1)\n```\n")


def test_figtol_and_nondeterministic_are_parsed():
    parsed = _cell("run figtol=12.5 nondeterministic=true")
    assert parsed.errors == []
    options = parsed.cells[0].options
    assert options.figtol == 12.5 and options.nondeterministic is True
    assert options.as_dict()["figtol"] == 12.5 and options.as_dict()["nondeterministic"] is True


def test_defaults_leave_the_comparison_to_the_runner():
    options = _cell("run").cells[0].options
    assert options.figtol is None and options.nondeterministic is False


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("run figtol=-1", "bad value for figtol: '-1'"),
        ("run figtol=300", "bad value for figtol: '300'"),
        ("run figtol=nan", "bad value for figtol: 'nan'"),
        ("run figtol=wide", "bad value for figtol: 'wide'"),
        ("run nondeterministic=maybe", "bad value for nondeterministic: 'maybe' (expected true or false)"),
        ("run figtol=1 figtol=2", "option 'figtol' given twice"),
    ],
)
def test_bad_values_are_authoring_errors_with_the_line(info, message):
    parsed = parse_answer(f"Intro\n\n```python {info}\nprint(1)\n```\n")
    assert [
        (e.line, e.message.split(" (")[0] if "(" not in message else e.message) for e in parsed.errors
    ] == [(3, message)]


def test_the_options_change_the_cells_key_so_a_run_checks_with_them():
    assert _cell("run").cells_key != _cell("run figtol=20").cells_key
    assert _cell("run").cells_key != _cell("run nondeterministic=true").cells_key


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


FIGURE_CHECK = {"position": 0, "match": True, "rms": 0.5, "worst_tile_rms": 1.0, "tolerance": 20}


def test_the_notebook_export_carries_marks_and_approved_figures_and_the_import_reads_them_back():
    body = "```python run nondeterministic=true figtol=20\nprint(1)\n```\n"
    results = {
        0: {
            "status": "ran",
            "output": "1\n",
            "stderr": "",
            "error": "",
            "checks": {
                "reproduction": {"reproduced": False},
                "figures": [
                    {"position": 0, "match": True, "rms": 0.5, "worst_tile_rms": 1.0, "tolerance": 20}
                ],
            },
        }
    }
    raw = answer_to_notebook(
        title="T", body=body, results=results, figures={0: [PNG]}, approved={(0, 0): PNG}
    )
    metadata = json.loads(raw)["cells"][1]["metadata"]["kb"]
    assert metadata["reproducibility"] == {
        "nondeterministic": True,
        "reproduced": False,
        "figures": [FIGURE_CHECK],
    }
    assert notebook_approved_figures(raw.encode()) == {(0, 0): PNG}
    _, markdown = notebook_to_markdown(raw.encode())
    assert "```python run figtol=20.0 nondeterministic=true" in markdown


def _ran_with_figures(*figures):
    return {"status": "ran", "status_label": "Ran", "ok": True, "output": "", "expected": None,
            "stderr": "", "error": "", "duration_s": 0.1, "checks": {}, "figures": list(figures)}  # fmt: skip


def test_a_figure_is_described_by_its_cell_and_its_title_unless_the_author_describes_it():
    body = "Intro\n\n```python run\nx = 1\n```\n\n```python run\nplot()\n```\n"
    titled = {"url": "/media/figures/a.png", "title": 'Loss < 1 & "accuracy"'}
    untitled = {"url": "/media/figures/b.png", "title": ""}  # a run stored before titles were
    html = render_answer(body, results={1: _ran_with_figures(titled, untitled)}).html
    assert 'alt="Figure 1 drawn by cell 2: Loss &lt; 1 &amp; &quot;accuracy&quot;"' in html
    assert "<figcaption>Figure 1 of cell 2: Loss &lt; 1 &amp; &quot;accuracy&quot; ·" in html
    assert 'alt="Figure 2 drawn by cell 2"' in html and "<figcaption>Figure 2 of cell 2 ·" in html
    assert 'id="cell-2-figure-2"' in html

    options = 'alt="Falls to 0.4" caption="Loss per epoch"'
    authored = body.replace("python run\nplot", f"python run {options}\nplot")
    html = render_answer(authored, results={1: _ran_with_figures(titled)}).html
    assert 'alt="Falls to 0.4"' in html and "<figcaption>Loss per epoch ·" in html
    assert "accuracy" not in html
