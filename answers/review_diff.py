"""What changed between two revisions' Markdown, as plain data for the review page (no ORM).

Prose is compared paragraph by paragraph and, inside a changed paragraph, word by word, so a
reviewer reads sentences with the changed words marked rather than a wall of +/- lines. Cells
are paired in order (an inserted or removed cell pairs with nothing) and their code is shown as
a line diff. Every piece is text: the template escapes it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .cells import parse_answer


@dataclass
class Segment:
    op: str  # "same", "added" or "removed"
    text: str


@dataclass
class ProseBlock:
    op: str  # "same", "added", "removed" or "changed"
    segments: list[Segment]


@dataclass
class CodeLine:
    op: str  # "same", "added", "removed"
    text: str


@dataclass
class CellPair:
    old_index: int | None
    new_index: int | None
    old_code: str | None
    new_code: str | None
    lines: list[CodeLine] = field(default_factory=list)

    @property
    def code_changed(self) -> bool:
        return self.old_code != self.new_code

    @property
    def label(self) -> str:
        if self.old_index is None:
            return f"Cell {self.new_index + 1} (new)"
        if self.new_index is None:
            return f"Cell {self.old_index + 1} (removed)"
        if self.old_index == self.new_index:
            return f"Cell {self.new_index + 1}"
        return f"Cell {self.new_index + 1} (was cell {self.old_index + 1})"


def prose_paragraphs(markdown: str) -> list[str]:
    """The answer's prose split into paragraphs, each runnable cell left out."""
    lines = markdown.splitlines()
    cut = [False] * len(lines)
    for cell in parse_answer(markdown).cells:
        for i in range(cell.span[0], min(cell.span[1], len(lines))):
            cut[i] = True
    text = "\n".join("" if cut[i] else line for i, line in enumerate(lines))
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _words(text: str) -> list[str]:
    return re.findall(r"\s+|[^\s]+", text)


def _word_diff(old: str, new: str) -> list[Segment]:
    a, b = _words(old), _words(new)
    segments: list[Segment] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            segments.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("added", "".join(b[j1:j2])))
    return segments


def prose_diff(old_markdown: str, new_markdown: str) -> list[ProseBlock]:
    old, new = prose_paragraphs(old_markdown), prose_paragraphs(new_markdown)
    blocks: list[ProseBlock] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            blocks.extend(ProseBlock("same", [Segment("same", p)]) for p in old[i1:i2])
            continue
        olds, news = old[i1:i2], new[j1:j2]
        for k in range(max(len(olds), len(news))):
            if k < len(olds) and k < len(news):
                blocks.append(ProseBlock("changed", _word_diff(olds[k], news[k])))
            elif k < len(olds):
                blocks.append(ProseBlock("removed", [Segment("removed", olds[k])]))
            else:
                blocks.append(ProseBlock("added", [Segment("added", news[k])]))
    return blocks


def _code_lines(old: str | None, new: str | None) -> list[CodeLine]:
    a, b = (old or "").splitlines(), (new or "").splitlines()
    lines: list[CodeLine] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines.extend(CodeLine("same", t) for t in a[i1:i2])
            continue
        lines.extend(CodeLine("removed", t) for t in a[i1:i2])
        lines.extend(CodeLine("added", t) for t in b[j1:j2])
    return lines


def line_diff(old: str | None, new: str | None) -> list[CodeLine]:
    """Any two texts line by line (a verified output and a reader's), as for code."""
    return _code_lines(old, new)


def cell_pairs(old_markdown: str, new_markdown: str) -> list[CellPair]:
    """Old and new cells side by side: unchanged ones matched, edits paired in order."""
    old = [c.code for c in parse_answer(old_markdown).cells]
    new = [c.code for c in parse_answer(new_markdown).cells]
    pairs: list[CellPair] = []
    for _tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            oi = i1 + k if i1 + k < i2 else None
            ni = j1 + k if j1 + k < j2 else None
            pair = CellPair(oi, ni, old[oi] if oi is not None else None, new[ni] if ni is not None else None)
            pair.lines = _code_lines(pair.old_code, pair.new_code)
            pairs.append(pair)
    return pairs
