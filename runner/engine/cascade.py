"""Which failing cells failed after an earlier cell failed: "failed because an earlier cell
failed" is a mark on the cell (``after_failure``), not a status of its own.

A cell breaks the session's state when its code stopped part-way: an exception, a timeout,
a memory, output or figure limit, a crash. Every later cell that fails in any way (an error, a
mismatch, a figure that differs, a nondeterministic output) carries the number of the first
such breaking cell: it may fail only because that cell did not finish (a name it defines is
missing, say). A mismatch alone breaks nothing (its code ran to the end), so a failure after
only mismatches is a real failure of its own. The cell statuses themselves are unchanged.
Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable

BREAKING = frozenset({"error", "timeout", "memory_limit", "output_limit", "crashed"})
FAILING = BREAKING | {"mismatch", "figure_mismatch", "nondeterministic"}


def after_failures(statuses: Iterable[tuple[int, str]]) -> dict[int, int]:
    """{cell index: index of the first earlier breaking cell} for (index, status) in run order."""
    marks: dict[int, int] = {}
    first_break = None
    for index, status in sorted(statuses, key=lambda pair: pair[0]):
        status = str(status)
        if first_break is not None and status in FAILING:
            marks[index] = first_break
        if first_break is None and status in BREAKING:
            first_break = index
    return marks


def first_failure(statuses: Iterable[tuple[int, str]]) -> int | None:
    """The first cell that failed on its own account (the one to fix first), or None."""
    pairs = sorted(statuses, key=lambda pair: pair[0])
    marked = after_failures(pairs)
    return next((index for index, status in pairs if str(status) in FAILING and index not in marked), None)
