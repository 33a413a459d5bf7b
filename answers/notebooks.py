"""Answers as Jupyter notebooks (nbformat v4): export with verified outputs (the import, a
notebook as a draft answer, is answers/notebook_import.py).

nbformat is imported inside the functions that use it: at module level it cost every process
that loads the admin (each manage.py command, each web worker) about 0.1 s at start."""

from __future__ import annotations

import base64

from .cells import markdown_lines, parse_answer
from .notebook_import import NotebookError, notebook_approved_figures, notebook_import, notebook_to_markdown

__all__ = [
    "NotebookError",
    "answer_to_notebook",
    "notebook_approved_figures",
    "notebook_import",
    "notebook_to_markdown",
]


def _cell_outputs(result: dict | None, figures_png: list[bytes]) -> list:
    from nbformat.v4 import new_output

    if result is None:
        return []
    outputs = []
    if result["output"]:
        outputs.append(new_output("stream", name="stdout", text=result["output"]))
    if result["stderr"]:
        outputs.append(new_output("stream", name="stderr", text=result["stderr"]))
    if result["error"] and result["status"] not in ("passed", "ran"):
        outputs.append(
            new_output("error", ename=result["status"], evalue="", traceback=result["error"].splitlines())
        )
    for png in figures_png:
        outputs.append(new_output("display_data", data={"image/png": base64.b64encode(png).decode()}))
    return outputs


def _reproducibility(cell, result: dict | None) -> dict:
    """The marks readers see, as cell metadata (kb.reproducibility)."""
    checks = (result or {}).get("checks") or {}
    reproduction = checks.get("reproduction")
    return {
        "nondeterministic": cell.options.nondeterministic,
        "reproduced": reproduction["reproduced"] if reproduction else None,
        "figures": [
            {key: check.get(key) for key in ("position", "match", "rms", "worst_tile_rms", "tolerance")}
            for check in checks.get("figures", [])
        ],
    }


def answer_to_notebook(
    *,
    title: str,
    body: str,
    results: dict[int, dict],
    figures: dict[int, list[bytes]],
    approved: dict[tuple[int, int], bytes] | None = None,
) -> str:
    """The answer's prose as Markdown cells and its runnable cells as code cells with outputs."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    parsed = parse_answer(body)
    lines = markdown_lines(body)
    cells = [new_markdown_cell(f"# {title}")]
    position = 0
    for cell in parsed.cells:
        start, end = cell.span
        prose = "\n".join(lines[position:start]).strip()
        if prose:
            cells.append(new_markdown_cell(prose))
        code = new_code_cell(
            cell.code, outputs=_cell_outputs(results.get(cell.index), figures.get(cell.index, []))
        )
        code.metadata["kb"] = {
            "options": cell.options.as_dict(),
            "expected": cell.expected,
            "reproducibility": _reproducibility(cell, results.get(cell.index)),
            # The approved images themselves, so an import carries the approvals.
            "approved_figures": [
                {"position": position, "image/png": base64.b64encode(png).decode()}
                for (index, position), png in sorted((approved or {}).items())
                if index == cell.index
            ],
        }
        cells.append(code)
        position = end
    rest = "\n".join(lines[position:]).strip()
    if rest:
        cells.append(new_markdown_cell(rest))
    notebook = new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    return nbformat.writes(notebook)
