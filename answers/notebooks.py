"""Answers as Jupyter notebooks (nbformat v4): export with verified outputs, import as a draft."""

from __future__ import annotations

import base64

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from .cells import parse_answer

MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024


class NotebookError(ValueError):
    """The upload is not a notebook we can turn into an answer; the message says why."""


def _cell_outputs(result: dict | None, figures_png: list[bytes]) -> list:
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


def answer_to_notebook(
    *, title: str, body: str, results: dict[int, dict], figures: dict[int, list[bytes]]
) -> str:
    """The answer's prose as Markdown cells and its runnable cells as code cells with outputs."""
    parsed = parse_answer(body)
    lines = body.splitlines()
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
        code.metadata["kb"] = {"options": cell.options.as_dict(), "expected": cell.expected}
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


def _fence_for(text: str) -> str:
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    return "`" * max(3, longest + 1)


def notebook_to_markdown(raw: bytes) -> tuple[str | None, str]:
    """(title, Markdown): code cells become runnable cells (with their kb options if any),
    Markdown cells prose; a first cell that is a lone `# Heading` gives the title."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"The notebook is larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB.")
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises many types (TypeError, KeyError...) on junk input
        raise NotebookError(f"This file is not a valid Jupyter notebook ({type(exc).__name__}).") from exc
    parts, title = [], None
    cells = list(notebook.cells)
    if cells and cells[0].cell_type == "markdown":
        first = cells[0].source.strip()
        if first.startswith("# ") and "\n" not in first:
            title, cells = first[2:].strip(), cells[1:]
    for cell in cells:
        source = cell.source.strip("\n")
        if not source.strip():
            continue
        if cell.cell_type == "markdown":
            parts.append(source)
        elif cell.cell_type == "code":
            options = (cell.metadata.get("kb") or {}).get("options") or {}
            words = [f"{key}={value}" for key, value in _non_default(options).items()]
            fence = _fence_for(source)
            parts.append(f"{fence}python run{' ' + ' '.join(words) if words else ''}\n{source}\n{fence}")
            expected = (cell.metadata.get("kb") or {}).get("expected")
            if expected is not None:
                parts.append(f"{_fence_for(expected)}output\n{expected}\n{_fence_for(expected)}")
    if not parts:
        raise NotebookError("The notebook has no cells with content.")
    return title, "\n\n".join(parts) + "\n"


def _non_default(options: dict) -> dict:
    defaults = {"timeout": 60.0, "device": "cpu", "raises": None, "tol": None, "hide": False}
    return {
        key: (str(value).lower() if isinstance(value, bool) else value)
        for key, value in options.items()
        if key in defaults and value != defaults[key]
    }
