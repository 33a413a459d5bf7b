"""A Jupyter notebook (nbformat v4) as a draft answer: "Start from a notebook" and verify_notebook.

Code cells become runnable cells, Markdown cells prose; a first cell that is a lone `# Heading`
gives the title. A cell exported by this site carries its options, expected output and approved
figures in metadata.kb, which win. Any other cell may keep what Jupyter stored
(answers/notebook_outputs.py): its text output as the expected `output` block, its images as
approved figures, nbval's markers and Jupyter's `raises-exception` tag as options, and a
`timeout=` proposed from its recorded execution time.

Refuses (NotebookError) what it cannot import faithfully, saying which cell and line: wrong-typed
kb metadata, odd option values, NUL characters, a lone carriage return in code, any cell whose
boundaries would change in the Markdown; and what is over the caps of answers/limits.py.

nbformat is imported inside the functions: at module level it cost every process that loads the
admin about 0.1 s at start."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from .cells import MAX_TIMEOUT_S, markdown_lines, parse_answer
from .ipython_lines import ipython_lines_refused
from .limits import answer_size_problem, notebook_size_problem
from .notebook_outputs import proposed_timeout, stored_cell


class NotebookError(ValueError):
    """The upload is not a notebook we can turn into an answer; the message says why."""


@dataclass
class ImportedNotebook:
    title: str | None
    markdown: str
    # {(runnable cell index, figure position): PNG}: metadata.kb's approvals, then stored images.
    figures: dict[tuple[int, int], bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the import chose, for the author
    kept_outputs: int = 0  # cells whose stored text output became their expected output
    # The notebook's cell number (1-based, the title cell counted) of each runnable cell.
    notebook_cells: list[int] = field(default_factory=list)


def _read(raw: bytes):
    import nbformat

    # Before nbformat reads it: parsing and validating 45,000 cells took seconds.
    if problem := notebook_size_problem(raw):
        raise NotebookError(problem)
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises many types (TypeError, KeyError...) on junk input
        raise NotebookError(f"This file is not a valid Jupyter notebook ({type(exc).__name__}).") from exc
    return notebook


def notebook_to_markdown(raw: bytes, *, keep_outputs: bool = False) -> tuple[str | None, str]:
    """(title, Markdown) of the notebook; see notebook_import."""
    imported = notebook_import(raw, keep_outputs=keep_outputs, keep_figures=False)
    return imported.title, imported.markdown


def notebook_approved_figures(raw: bytes) -> dict[tuple[int, int], bytes]:
    """{(cell index, figure position): PNG} from kb.approved_figures of an exported notebook."""
    try:
        return notebook_import(raw, keep_outputs=False, keep_figures=False).figures
    except NotebookError:
        return {}  # notebook_to_markdown reports what is wrong with the file


def notebook_import(raw: bytes, *, keep_outputs: bool = True, keep_figures: bool = True) -> ImportedNotebook:
    """The notebook as Markdown, with (when asked) stored outputs as expected outputs and stored
    images as approved figures; nbval markers, tags and timings are always read."""
    notebook = _read(raw)
    parts, title = [], None
    cells = list(notebook.cells)
    offset = 1
    if cells and cells[0].cell_type == "markdown":
        first = cells[0].source.strip()
        if first.startswith("# ") and "\n" not in first:
            title, cells, offset = first[2:].strip(), cells[1:], 2
            _refuse_nul(title, "The title")
    result = ImportedNotebook(title=None, markdown="")
    code_cells: list[tuple[str, str | None]] = []
    refused: list[str] = []  # IPython lines the runner cannot run, each with its cell and line
    total_s = 0.0
    for number, cell in enumerate(cells, start=offset):  # numbered as in the notebook, title included
        source = cell.source.strip("\n")
        if not source.strip():
            continue
        _refuse_nul(source, f"Cell {number}")
        if cell.cell_type == "markdown":
            parts.append(source)
            continue
        if cell.cell_type != "code":
            continue
        source = _code_lines_checked(source, number)
        stored = stored_cell(cell)
        total_s += stored.duration_s or 0.0
        fence = _fence_for(source)
        if stored.skip:
            # nbval never runs it: shown as display-only code, which the site never runs either.
            parts.append(f"{fence}python\n{source}\n{fence}")
            result.notes.append(f"Cell {number}: NBVAL_SKIP, shown as code that is not run.")
            continue
        refused += [
            f"Cell {number}, line {line}: `{text}` cannot run: {reason}"
            for line, text, reason in ipython_lines_refused(source)
        ]
        index = len(code_cells)
        if "kb" in cell.metadata:
            options, expected = _kb_metadata(cell, number)
            result.figures.update({(index, p): png for p, png in _kb_figures(cell).items()})
        else:
            options, expected = _stored_options(stored, number, keep_outputs, result.notes)
            if expected is not None:
                result.kept_outputs += 1
            if keep_figures and not stored.ignore_output:
                result.figures.update({(index, p): png for p, png in enumerate(stored.images)})
        words = _option_words(options, number)
        parts.append(f"{fence}python run{' ' + ' '.join(words) if words else ''}\n{source}\n{fence}")
        if expected is not None:
            _refuse_nul(expected, f"The expected output of cell {number}")
            shown = expected.rstrip("\n")  # the output's last line end is the fence's
            parts.append(f"{_fence_for(shown)}output\n{shown}\n{_fence_for(shown)}")
        code_cells.append((source, expected))
        result.notebook_cells.append(number)
    if not parts:
        raise NotebookError("The notebook has no cells with content.")
    if refused:
        more = f" (and {len(refused) - 10} more)" if len(refused) > 10 else ""
        raise NotebookError(
            "These lines cannot run here: " + "; ".join(refused[:10]) + more + ". Remove them, or mark "
            "the cell # NBVAL_SKIP to keep it as code that is shown and not run."
        )
    if total_s > MAX_TIMEOUT_S:
        result.notes.append(
            f"The notebook's cells took {total_s:,.0f} s in Jupyter; an answer may run for at most "
            f"{MAX_TIMEOUT_S:g} s in all, so it would stop with a timeout: make the cells cheaper or "
            "split the notebook into several answers."
        )
    markdown = "\n\n".join(parts) + "\n"
    if problem := answer_size_problem(markdown):
        raise NotebookError(problem)
    _check_cells_kept(markdown, code_cells)
    result.title, result.markdown = title, markdown
    return result


def _stored_options(stored, number: int, keep_outputs: bool, notes: list[str]) -> tuple[dict, str | None]:
    """Options and expected output of a cell from what Jupyter stored and nbval's markers."""
    options: dict = {}
    if stored.raises:
        options["raises"] = stored.error_name or "Exception"
    if stored.ignore_output:
        # nbval runs it but never compares; here it still runs twice, so say the output may vary.
        options["nondeterministic"] = True
    if timeout := proposed_timeout(stored.duration_s):
        options["timeout"] = int(timeout)
        notes.append(
            f"Cell {number}: took {stored.duration_s:,.1f} s in Jupyter; timeout={timeout:g} proposed"
            + (f" (the most a cell may have is {MAX_TIMEOUT_S:g} s)." if timeout == MAX_TIMEOUT_S else ".")
        )
    expected = None
    if (keep_outputs or stored.check_output) and not stored.ignore_output and stored.text is not None:
        expected = stored.text
    return options, expected


def _kb_figures(cell) -> dict[int, bytes]:
    found = {}
    for entry in (cell.metadata.get("kb") or {}).get("approved_figures") or []:
        try:
            found[int(entry["position"])] = base64.b64decode(entry["image/png"], validate=True)
        except (KeyError, TypeError, ValueError):
            continue  # a damaged entry: that figure is simply not approved
    return found


def _code_lines_checked(source: str, number: int) -> str:
    """The code with Windows line ends made \\n (Python reads both alike); a lone \\r is refused,
    since Markdown and Python would both read it as a line break and the cell would change."""
    source = source.replace("\r\n", "\n")
    if "\r" in source:
        line = source[: source.index("\r")].count("\n") + 1
        raise NotebookError(
            f"Cell {number}, line {line}: a carriage return (\\r) not followed by a newline, which "
            "Markdown reads as a line break, so the cell would not run as written: "
            "write it as \\r inside a string, or remove it."
        )
    return source


def _fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run that starts a line of `text` (indented or
    not, with an info string or not), so no line inside can close it."""
    longest = max(
        (len(m.group(1)) for m in _LINE_BACKTICKS.finditer("\n".join(markdown_lines(text)))), default=0
    )
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


def _first_difference(want: str, got: str) -> str:
    """Where two texts first differ, as 'line N (character U+XXXX)'."""
    at = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
    )
    line = want[:at].count("\n") + 1
    character = want[at] if at < len(want) else (got[at] if at < len(got) else "")
    return f"line {line}" + (f" (character U+{ord(character):04X})" if character else " (its end)")


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
        if want[0] != got[0]:
            raise NotebookError(
                f"Code cell {number} would not be imported exactly as written: it differs at "
                f"{_first_difference(want[0], got[0])}."
            )
        if (want[1] or "").rstrip("\n") != (got[1] or "").rstrip("\n"):
            raise NotebookError(
                f"The expected output of code cell {number} would not be imported exactly as written: "
                f"it differs at {_first_difference(want[1] or '', got[1] or '')}."
            )
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
