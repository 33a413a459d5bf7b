"""Answers as Jupyter notebooks (nbformat v4): export with verified outputs, import as a draft.

nbformat is imported inside the functions that use it: at module level it cost every process
that loads the admin (each manage.py command, each web worker) about 0.1 s at start."""

from __future__ import annotations

import base64
import re

from .cells import parse_answer
from .limits import answer_size_problem, notebook_size_problem


class NotebookError(ValueError):
    """The upload is not a notebook we can turn into an answer; the message says why."""


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
    """Issue 12: the marks readers see, as cell metadata (kb.reproducibility)."""
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
        code.metadata["kb"] = {
            "options": cell.options.as_dict(),
            "expected": cell.expected,
            "reproducibility": _reproducibility(cell, results.get(cell.index)),
            # The approved images themselves, so an import carries the approvals (issue 12).
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


def notebook_approved_figures(raw: bytes) -> dict[tuple[int, int], bytes]:
    """{(cell index, figure position): PNG} from kb.approved_figures of an exported notebook."""
    import nbformat

    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - notebook_to_markdown reports what is wrong with the file
        return {}
    found: dict[tuple[int, int], bytes] = {}
    code_cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    for index, cell in enumerate(code_cells):
        for entry in (cell.metadata.get("kb") or {}).get("approved_figures") or []:
            try:
                found[(index, int(entry["position"]))] = base64.b64decode(entry["image/png"], validate=True)
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry: that figure is simply not approved
    return found


def _fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run that starts a line of `text` (indented or
    not, with an info string or not), so no line inside can close it (issue 8 item 4)."""
    longest = max((len(m.group(1)) for m in _LINE_BACKTICKS.finditer(text)), default=0)
    return "`" * max(3, longest + 1)


_LINE_BACKTICKS = re.compile(r"^[ \t]*(`+)", re.MULTILINE)
# An option value is one plain word: no spaces, newlines, quotes or backticks that could end
# the info string and inject prose or another cell.
_OPTION_VALUE = re.compile(r"[A-Za-z0-9_.+-]{1,100}")


def _kb_metadata(cell, number: int) -> tuple[dict, str | None]:
    """(options, expected) from a code cell's metadata.kb, refusing anything of the wrong type."""
    kb = cell.metadata.get("kb")
    if kb is None:
        return {}, None
    if not isinstance(kb, dict):
        raise NotebookError(f"Cell {number}: metadata.kb must be an object, not {type(kb).__name__}.")
    options = kb.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise NotebookError(f"Cell {number}: kb.options must be an object, not {type(options).__name__}.")
    expected = kb.get("expected")
    if expected is not None and not isinstance(expected, str):
        raise NotebookError(f"Cell {number}: kb.expected must be text, not {type(expected).__name__}.")
    return options, expected


def _option_words(options: dict, number: int) -> list[str]:
    words = []
    for key, value in _non_default(options).items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise NotebookError(f"Cell {number}: option {key} has a value of the wrong type.")
        if not _OPTION_VALUE.fullmatch(str(value)):
            raise NotebookError(
                f"Cell {number}: option {key}={str(value)[:40]!r} is not a plain value "
                "(letters, digits and . _ + - only)."
            )
        words.append(f"{key}={value}")
    return words


def _refuse_nul(text: str, where: str) -> None:
    if "\x00" in text:
        raise NotebookError(f"{where} contains a NUL character (\\u0000), which an answer cannot hold.")


def notebook_to_markdown(raw: bytes) -> tuple[str | None, str]:
    """(title, Markdown): code cells become runnable cells (with their kb options if any),
    Markdown cells prose; a first cell that is a lone `# Heading` gives the title.

    Refuses (NotebookError) what it cannot import faithfully: wrong-typed kb metadata, odd
    option values, NUL characters, or any cell whose boundaries would change in the Markdown;
    and what is over the caps of answers/limits.py."""
    import nbformat

    # Before nbformat reads it: parsing and validating 45,000 cells took seconds (issue 21).
    if problem := notebook_size_problem(raw):
        raise NotebookError(problem)
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
            _refuse_nul(title, "The title")
    code_cells = []
    for number, cell in enumerate(cells, start=1):
        source = cell.source.strip("\n")
        if not source.strip():
            continue
        _refuse_nul(source, f"Cell {number}")
        if cell.cell_type == "markdown":
            parts.append(source)
        elif cell.cell_type == "code":
            options, expected = _kb_metadata(cell, number)
            words = _option_words(options, number)
            fence = _fence_for(source)
            parts.append(f"{fence}python run{' ' + ' '.join(words) if words else ''}\n{source}\n{fence}")
            if expected is not None:
                _refuse_nul(expected, f"The expected output of cell {number}")
                parts.append(f"{_fence_for(expected)}output\n{expected}\n{_fence_for(expected)}")
            code_cells.append((source, expected))
    if not parts:
        raise NotebookError("The notebook has no cells with content.")
    markdown = "\n\n".join(parts) + "\n"
    if problem := answer_size_problem(markdown):
        raise NotebookError(problem)
    _check_cells_kept(markdown, code_cells)
    return title, markdown


def _check_cells_kept(markdown: str, code_cells: list[tuple[str, str | None]]) -> None:
    """The Markdown must give back exactly the notebook's code cells: no extra cell from a
    fence inside a Markdown cell, no cell swallowed by an unclosed one, the same code."""
    parsed = parse_answer(markdown)
    found = [(cell.code, cell.expected) for cell in parsed.cells]
    if len(found) != len(code_cells):
        raise NotebookError(
            f"The notebook has {len(code_cells)} code cells but would become {len(found)} runnable cells "
            "(a Markdown cell holds a code fence, or a fence is left open); fix the notebook and upload "
            "it again."
        )
    for number, (want, got) in enumerate(zip(code_cells, found, strict=True), start=1):
        if want[0] != got[0] or (want[1] or "").rstrip("\n") != (got[1] or "").rstrip("\n"):
            raise NotebookError(f"Code cell {number} would not be imported exactly as written.")
    if parsed.errors:
        raise NotebookError(f"The imported answer would have authoring errors: {parsed.errors[0]}.")


def _non_default(options: dict) -> dict:
    defaults = {
        "timeout": 60.0,
        "device": "cpu",
        "raises": None,
        "tol": None,
        "hide": False,
        "figtol": None,
        "nondeterministic": False,
    }
    return {
        key: (str(value).lower() if isinstance(value, bool) else value)
        for key, value in options.items()
        if key in defaults and value != defaults[key]
    }
