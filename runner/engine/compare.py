"""Expected-output comparison, as shared/DESIGN.md defines it. Pure functions, no Django.

- Carriage returns: both texts read as a terminal (and Jupyter's output area) shows them,
  what follows a ``\r`` overwriting the start of its line, so the progress line "10%\r100%"
  is "100%". (An expected text from Markdown holds none: there a ``\r`` ends a line.)
- Whitespace: any run of whitespace is one space; leading and trailing whitespace is ignored.
- ``...`` in the expected text matches any text, like doctest's ELLIPSIS. The spaces around
  an ellipsis are optional, so ``a ...`` also matches ``a``.
- IPython's timing lines (``Wall time: 2.1 ms``, a ``%timeit`` result) are never compared.
- ``tol``: every number in the expected text matches a number in the same place of the actual
  text whose value is within that relative tolerance (``tensor(0.3333)`` matches
  ``tensor(0.33333334)`` with ``tol=1e-3``). Without ``tol`` numbers compare as text.

Matching works segment by segment (the text between ellipses), each found leftmost after the
previous one, as doctest does: linear in practice, with no regex backtracking across ``...``
that a long output could turn into a stall.
"""

from __future__ import annotations

import difflib
import math
import re
from functools import lru_cache

ELLIPSIS = "..."
_WHITESPACE = re.compile(r"\s+")
# A number not glued to a word or another number: `conv1` holds none, `(0.5)` and `-1e-3` do.
# Atomic group: a number is read whole, never re-split by backtracking.
_NUMBER = r"(?<![\w.])(?>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
_NUMBER_RE = NUMBER_RE = re.compile(_NUMBER)


def terminal_text(text: str) -> str:
    """Text as a terminal shows it: on each line a carriage return moves back to the line's
    start and what follows overwrites what was there (``\r\n`` is a plain line end)."""
    if "\r" not in text:
        return text
    shown = []
    for line in re.sub(r"\r+\n", "\n", text).split("\n"):
        screen = ""
        for part in line.split("\r"):
            screen = part + screen[len(part) :]
        shown.append(screen)
    return "\n".join(shown)


# What IPython's %time and %timeit print: a measurement, different on every run, so it is
# never compared (expected outputs and the double run see each such line as "<timing>").
_TIMING_LINE = re.compile(
    r"^[ \t]*(?:CPU times: (?:user .*, sys: .*, )?total: .*"
    r"|Wall time: .*"
    r"|Compiler : .*|Parser   : .*"
    r"|\S+ \S*s (?:±|\+-) \S+ \S*s per loop \(mean (?:±|\+-) std\. dev\. of \d+ runs?, [\d,]+ loops? each\))"
    r"[ \t]*$",
    re.MULTILINE,
)
TIMING_MARK = "<timing>"
# %timeit's warning about a slow first run comes and goes between runs: dropped altogether.
_SLOWEST_RUN_LINE = re.compile(
    r"^[ \t]*The slowest run took .* times longer than the fastest\..*(?:\n|\Z)", re.MULTILINE
)


def mask_timings(text: str) -> str:
    """Each line %time or %timeit printed, replaced by ``<timing>``."""
    if "time" not in text and "per loop" not in text:
        return text
    return _TIMING_LINE.sub(TIMING_MARK, _SLOWEST_RUN_LINE.sub("", text))


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space and strip both ends.

    A NUL is read as U+FFFD, the character the page shows for it (the database cannot store a
    NUL, runner.services stores U+FFFD instead): an author copying the shown output matches."""
    return _WHITESPACE.sub(" ", mask_timings(text).replace("\x00", "\ufffd")).strip()


def numbers_close(expected: float, actual: float, tol: float) -> bool:
    if expected == actual:
        return True
    if math.isnan(expected) or math.isnan(actual):
        return False
    return abs(expected - actual) <= tol * max(abs(expected), abs(actual))


@lru_cache(maxsize=256)
def _segment_pattern(segment: str, numeric: bool) -> tuple[re.Pattern, tuple[float, ...]]:
    """Compile one ellipsis-free segment; with ``numeric`` its numbers become capture groups."""
    if not numeric:
        return re.compile(re.escape(segment)), ()
    parts: list[str] = []
    values: list[float] = []
    last = 0
    for match in _NUMBER_RE.finditer(segment):
        parts.append(re.escape(segment[last : match.start()]))
        parts.append(f"({_NUMBER})")
        values.append(float(match.group()))
        last = match.end()
    parts.append(re.escape(segment[last:]))
    return re.compile("".join(parts)), tuple(values)


def _numbers_ok(match: re.Match, values: tuple[float, ...], tol: float | None) -> bool:
    if tol is None:
        return True
    return all(numbers_close(v, float(g), tol) for v, g in zip(values, match.groups(), strict=True))


def _find(segment: str, text: str, start: int, tol: float | None, *, at_start=False, at_end=False):
    """First match of ``segment`` in ``text[start:]`` honouring anchors and tolerance, or None."""
    pattern, values = _segment_pattern(segment, tol is not None)
    if at_end:
        pattern = re.compile(pattern.pattern + r"\Z")
    if at_start:
        match = pattern.match(text, start)
        return match if match and _numbers_ok(match, values, tol) else None
    position = start
    while position <= len(text):
        match = pattern.search(text, position)
        if match is None:
            return None
        if _numbers_ok(match, values, tol):
            return match
        position = match.start() + 1
    return None


def matches(expected: str, actual: str, *, tol: float | None = None) -> bool:
    """Does ``actual`` output satisfy the author's ``expected`` output?"""
    want = normalise(terminal_text(expected))
    have = normalise(terminal_text(actual))
    segments = [s.strip() for s in want.split(ELLIPSIS)]
    if len(segments) == 1:
        match = _find(segments[0], have, 0, tol, at_start=True, at_end=True)
        return match is not None and match.end() == len(have)
    first = _find(segments[0], have, 0, tol, at_start=True)
    if first is None:
        return False
    position = first.end()
    for segment in segments[1:-1]:
        if not segment:
            continue
        match = _find(segment, have, position, tol)
        if match is None:
            return False
        position = match.end()
    return _find(segments[-1], have, position, tol, at_end=True) is not None


def diff(expected: str, actual: str) -> str:
    """A short unified diff of the two texts, for showing a mismatch to an author."""
    lines = difflib.unified_diff(
        expected.rstrip().splitlines(),
        actual.rstrip().splitlines(),
        fromfile="expected",
        tofile="actual",
        lineterm="",
    )
    return "\n".join(lines)
