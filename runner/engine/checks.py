"""After a cell ran: does it reproduce, and do its figures match their approved images?

Pure of Django (the worker and `verify_markdown` both call it): the caller hands in the
cell's result from the first sandbox, the result from the second sandbox (None when the run
was not doubled) and the approved PNGs it could load. shared/DESIGN.md names the
statuses `nondeterministic` and `figure_mismatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .compare import diff, mask_timings
from .figures import FigureReadError, compare_figures, difference_png
from .protocol import OK_STATUSES, CellResult, CellStatus


@dataclass
class CheckedCell:
    result: CellResult  # with its status (and error) updated by the checks
    checks: dict = field(default_factory=dict)  # what was compared, for the admin and pages
    diff_pngs: dict[int, bytes] = field(default_factory=dict)  # figure position -> difference image


# A default repr names the object's memory address (`<matplotlib.legend.Legend at 0x7f...>`,
# `<... object at 0x7f...>`), which differs between two processes by design: it is not part of
# what the cell computed, so the two runs are compared without it.
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+>")


def _without_addresses(text: str) -> str:
    """The output as the two runs are compared: no addresses, no %time/%timeit measurements."""
    return _ADDRESS.sub("at 0x…>", mask_timings(text))


def _reproduction(
    first: CellResult, second: CellResult, figtol: float | None, labels=("first run", "second run")
) -> dict:
    problems = []
    if first.status != second.status:
        problems.append(f"the {labels[0]} ended {first.status}, the {labels[1]} {second.status}")
    if _without_addresses(first.output) != _without_addresses(second.output):
        problems.append(f"the output differs between the {labels[0]} and the {labels[1]}")
        drawn = sorted(set(first.unseeded_random) | set(second.unseeded_random))
        if drawn:
            problems.append(
                "it depends on the global random state: seed it, or mark it nondeterministic=true"
                f" ({', '.join(drawn)} drawn without a seed of its own; seed=fixed accepts the fixed seed)"
            )
    if len(first.figures) != len(second.figures):
        problems.append(
            f"the {labels[0]} drew {len(first.figures)} figure(s), the {labels[1]} {len(second.figures)}"
        )
    else:
        for position, (a, b) in enumerate(zip(first.figures, second.figures, strict=True)):
            if a == b:
                continue
            try:
                same = compare_figures(b, a, tolerance=figtol)
            except FigureReadError as exc:
                problems.append(f"figure {position + 1} cannot be compared: {exc}")
                continue
            if not same.match:
                problems.append(f"figure {position + 1} {same.reason.replace('approved figure', labels[0])}")
    return {
        "reproduced": not problems,
        "problems": problems,
        "second_status": str(second.status),
        "second_output": second.output,
        "output_diff": _diff(first.output, second.output, labels)
        if _without_addresses(first.output) != _without_addresses(second.output)
        else "",
    }


def _diff(a: str, b: str, labels) -> str:
    lines = diff(a, b).splitlines()
    if len(lines) >= 2:  # the file names of the unified diff
        lines[0], lines[1] = f"--- {labels[0]}", f"+++ {labels[1]}"
    return "\n".join(lines)


def _figure_checks(result: CellResult, approved: dict[int, bytes | Exception], figtol: float | None):
    checks, diffs, problems = [], {}, []
    for position in sorted(approved):
        image = approved[position]
        entry = {"position": position, "approved": True, "match": False}
        if isinstance(image, Exception):
            entry["reason"] = f"the approved image cannot be read: {image}"
            problems.append(f"authoring error: figure {position + 1}'s {entry['reason']}")
        elif position >= len(result.figures):
            entry["reason"] = "the cell no longer draws this figure"
            problems.append(f"figure {position + 1} was approved but the cell drew {len(result.figures)}")
        else:
            try:
                comparison = compare_figures(result.figures[position], image, tolerance=figtol)
            except FigureReadError as exc:
                # The new figure or the approved one is not a PNG we can read: say which.
                entry["reason"] = f"cannot compare: {exc}"
                problems.append(f"authoring error: figure {position + 1}: {entry['reason']}")
            else:
                entry.update(comparison.as_dict())
                if not comparison.match:
                    problems.append(f"figure {position + 1} {comparison.reason}")
                    png = difference_png(result.figures[position], image)
                    if png is not None:
                        diffs[position] = png
        checks.append(entry)
    return checks, diffs, problems


def check_cell(
    result: CellResult,
    *,
    options: dict,
    second: CellResult | None = None,
    approved: dict[int, bytes | Exception] | None = None,
    reference: CellResult | None = None,
) -> CheckedCell:
    """The cell's final status: a failure of its own stays; then reproduction, then figures.

    ``approved`` maps a figure position to its approved PNG, or to the exception met while
    loading it (a missing or corrupt file becomes a clear authoring error on the cell).
    """
    figtol = options.get("figtol")
    checks: dict = {}
    problems: list[str] = []
    status = result.status
    if second is not None:
        checks["reproduction"] = _reproduction(result, second, figtol)
        checks["nondeterministic_allowed"] = bool(options.get("nondeterministic"))
        if not checks["reproduction"]["reproduced"] and not options.get("nondeterministic"):
            problems += checks["reproduction"]["problems"]
            if status in OK_STATUSES:
                status = CellStatus.NONDETERMINISTIC
    if reference is not None:
        # A re-verification: the stored result of the verified revision is the other run.
        checks["reference"] = _reproduction(reference, result, figtol, ("verified run", "new run"))
        checks["nondeterministic_allowed"] = bool(options.get("nondeterministic"))
        if not checks["reference"]["reproduced"] and not options.get("nondeterministic"):
            problems += checks["reference"]["problems"]
            if status in OK_STATUSES:
                status = CellStatus.NONDETERMINISTIC
    figure_checks, diffs, figure_problems = _figure_checks(result, approved or {}, figtol)
    checks["figures"] = figure_checks
    if figure_problems:
        problems += figure_problems
        if status in OK_STATUSES:
            status = CellStatus.FIGURE_MISMATCH
    if status == result.status:
        return CheckedCell(result, checks, diffs)
    error = "\n".join(problems)
    if result.error:
        error = f"{result.error.rstrip()}\n{error}"
    return CheckedCell(replace(result, status=status, error=error), checks, diffs)
