"""How big one answer may be: the caps every way in applies (the admin, the notebook import,
`import_articles`, answer_save), documented in docs/authoring.md ("Limits").

Without caps, a 4.4 MB notebook of 45,000 cells was accepted in one 42 s request, close to
gunicorn's 60 s. Saving an answer parses and renders it in the request, and rendering costs
about 0.4 ms per fenced block plus, for python-markdown's inline parser, more than linear time
in a long paragraph (measured: 512 KiB of inline code spans in one paragraph 13 s, 1 MiB 72 s).
The caps keep every real answer well inside: the seeded articles have at most 16 cells and
28 KB, real notebooks (33 notebooks, 1,198 code cells) about 100 cells at most.
Pure: no Django, so the Markdown checks and their tests need no database.
"""

from __future__ import annotations

import json
import re

from .cells import markdown_lines, parse_answer, scan_fences

MAX_CELLS = 200  # runnable (`python run`) cells in one answer
MAX_CODE_BLOCKS = 500  # fenced blocks of any kind: cells, their output blocks, display-only code
MAX_ANSWER_BYTES = 512 * 1024  # the answer's Markdown, in UTF-8
# Lists and quotes inside one another, in prose: python-markdown recurses once per level and
# raised RecursionError (a 500 on save) near 250 levels, from a 6 KB line of "- - - ... x".
MAX_NESTING = 50
MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024  # an uploaded .ipynb, stored outputs and images included
_MB = f"{MAX_NOTEBOOK_BYTES // 2**20} MB"
# Every cell of a notebook, Markdown ones too; counted on the raw JSON, before nbformat's much
# slower parsing and schema validation.
MAX_NOTEBOOK_CELLS = 1000

SPLIT_ADVICE = "split it into several questions"


class AnswerTooLarge(ValueError):
    """Raised by answer_save for Markdown over the caps; the message names the limit."""


def answer_size_problem(markdown: str) -> str | None:
    """Why this Markdown is too big to be an answer, naming the limit; None if it fits."""
    size = len(markdown.encode("utf-8"))
    if size > MAX_ANSWER_BYTES:
        return (
            f"The answer is {size:,} bytes of Markdown; an answer may hold at most "
            f"{MAX_ANSWER_BYTES:,} bytes ({MAX_ANSWER_BYTES // 1024} KiB): {SPLIT_ADVICE}."
        )
    lines = markdown_lines(markdown)
    fences = scan_fences(lines)
    if len(fences) > MAX_CODE_BLOCKS:
        return (
            f"The answer has {len(fences)} code blocks; an answer may hold at most {MAX_CODE_BLOCKS} "
            f"(runnable cells, output blocks and display-only code together): {SPLIT_ADVICE}."
        )
    if problem := _nesting_problem(lines, fences):
        return problem
    cells = len(parse_answer(markdown).cells)
    if cells > MAX_CELLS:
        return (
            f"The answer has {cells} runnable cells; an answer may hold at most {MAX_CELLS}: {SPLIT_ADVICE}."
        )
    return None


_MARKER = re.compile(r"(?:[-*+>]|\d{1,9}[.)])(?:[ \t]+|$)")


def _nesting_problem(lines: list[str], fences) -> str | None:
    in_code = set()
    for fence in fences:
        in_code.update(range(fence.start, fence.end + 1))
    for number, line in enumerate(lines):
        if number in in_code:
            continue
        text = line.expandtabs(4)
        body = text.lstrip()
        markers = 0
        while match := _MARKER.match(body):
            markers += 1
            body = body[match.end() :].lstrip()
        if not markers:
            continue  # indented text alone is a code block, not a level
        depth = (len(text) - len(text.lstrip())) // 4 + markers
        if depth > MAX_NESTING:
            return (
                f"Line {number + 1} is nested {depth} lists or quotes deep; an answer may nest them "
                f"at most {MAX_NESTING} deep: flatten it."
            )
    return None


def notebook_bytes_problem(size: int) -> str | None:
    if size > MAX_NOTEBOOK_BYTES:
        return f"The notebook is larger than {_MB} ({size:,} bytes; at most {MAX_NOTEBOOK_BYTES:,})."
    return None


def notebook_size_problem(raw: bytes) -> str | None:
    """Why this upload is too big to import, from its size and cell counts; None if it fits or
    is not JSON (the import then says what is wrong with the file)."""
    if problem := notebook_bytes_problem(len(raw)):
        return problem
    try:
        cells = json.loads(raw).get("cells")
    except (ValueError, AttributeError):
        return None
    if not isinstance(cells, list):
        return None
    if len(cells) > MAX_NOTEBOOK_CELLS:
        return (
            f"The notebook has {len(cells)} cells; a notebook may have at most {MAX_NOTEBOOK_CELLS} "
            f"(Markdown cells included): {SPLIT_ADVICE}."
        )
    code = sum(1 for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code")
    if code > MAX_CELLS:
        return (
            f"The notebook has {code} code cells; an answer may hold at most {MAX_CELLS} runnable "
            f"cells: {SPLIT_ADVICE}."
        )
    return None
