"""Runs that check more than the expected output: a second run in its own sandbox (does the
answer reproduce?), the figures against their approved images, and the outputs against a
verified run's stored ones (did a re-verification drift?).

runner/engine/checks.py decides (pure); this module loads the approved PNGs named in the
run's cells (answers put them there when asking for the run), runs the answer once or twice
and stores each cell with its checks and difference images.
"""

from __future__ import annotations

import contextlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .engine.checks import check_cell
from .engine.fingerprint import environment_fingerprint
from .engine.protocol import CellResult, CellStatus
from .engine.twice import TwiceRun
from .models import Run, RunFigure, figure_storage_path


def approved_images(cell: dict) -> dict[int, bytes | Exception]:
    """The approved PNG of each approved figure of this cell, or why it cannot be read."""
    images: dict[int, bytes | Exception] = {}
    for entry in cell.get("approved") or []:
        path = entry.get("path") or ""
        try:
            with default_storage.open(path, "rb") as handle:
                images[int(entry["position"])] = handle.read()
        except (OSError, ValueError) as exc:
            images[int(entry["position"])] = FileNotFoundError(f"{path or 'no path'} is missing ({exc})")
    return images


def store_png(png: bytes) -> str:
    """Content-addressed, like the run figures: the same image is stored once."""
    path = figure_storage_path(RunFigure.digest(png))
    store_once(path, png)
    return path


def store_once(path: str, png: bytes) -> None:
    """Store `png` under its content-hash `path` unless a whole copy is there already.

    A write that failed (a full disk) or a worker killed mid-write leaves a partial
    file under the right name; taken for the image, it would be linked from then on. So a copy
    of the wrong size is replaced, and a failed write removes what it left."""
    if default_storage.exists(path):
        if default_storage.size(path) == len(png):
            return
        default_storage.delete(path)
    try:
        default_storage.save(path, ContentFile(png))
    except Exception:
        with contextlib.suppress(Exception):
            default_storage.delete(path)
        raise


def _reference(cell: dict, first: CellResult) -> CellResult | None:
    """The verified run's stored result for this cell, when this run re-verifies it."""
    stored = cell.get("reference")
    if not stored:
        return None
    figures = []
    for path in stored.get("figures", []):
        try:
            with default_storage.open(path, "rb") as handle:
                figures.append(handle.read())
        except OSError:
            figures.append(b"")  # compared as unreadable: reported, not a crash
    return CellResult(
        index=first.index,
        line=first.line,
        status=CellStatus(stored["status"]),
        output=stored.get("output", ""),
        figures=figures,
    )


def _checked(run: Run, first, second):
    cell = run.cells[first.index] if first.index < len(run.cells) else {}
    checked = check_cell(
        first,
        options=cell.get("options") or {},
        second=second,
        approved=approved_images(cell),
        reference=_reference(cell, first),
    )
    checks = checked.checks
    for entry in checks.get("figures", []):
        png = checked.diff_pngs.get(entry["position"])
        if png is not None:
            entry["diff_path"] = store_png(png)
        approved = next((a for a in cell.get("approved") or [] if a["position"] == entry["position"]), None)
        if approved is not None:
            entry["approved_path"] = approved["path"]
            entry["approval_id"] = approved.get("id")
    if second is not None:
        checks["reproduction"]["second_figures"] = [store_png(png) for png in second.figures]
    for name in ("reproduction", "reference"):
        for key in ("second_output", "output_diff"):
            if name in checks and isinstance(checks[name].get(key), str):
                # PostgreSQL's JSON cannot hold NUL: stored as U+FFFD, as the cell's own text is.
                checks[name][key] = checks[name][key].replace("\x00", "\ufffd")
    return checked.result, checks


def run_execute_checked(*, run: Run, server, second_server=None) -> Run:
    """Run the cells (twice when the run asks for it and a second server is given)."""
    from . import faults
    from .results import run_data_files
    from .services import run_finish, run_record_store

    twice = run.twice and second_server is not None
    files = run_data_files(run=run)
    pairs = (
        TwiceRun(server, second_server, run.cells, files=files)
        if twice
        else _single(server.run_answer(run.cells, files=files))
    )
    with pairs:
        for first, second in pairs:
            faults.check_result(first)  # a fork server that died is no result: the run is queued again
            faults.check_result(second)
            result, checks = _checked(run, first, second)
            run_record_store(run=run, result=result, checks=checks)
    info = pairs.info
    sandbox = dict(info.sandbox) if info else {}
    if twice:
        sandbox["runs"] = 2
    return faults.retrying_db(
        lambda _retry: run_finish(
            run=run,
            fingerprint=environment_fingerprint(),
            sandbox=sandbox,
            detail=info.detail if info else "",
        )
    )


class _single:
    """The one-run case in TwiceRun's shape: (result, None) pairs."""

    def __init__(self, answer_run):
        self.answer_run = answer_run
        self.info = None

    def __iter__(self):
        for result in self.answer_run:
            yield result, None
        self.info = self.answer_run.info

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.answer_run.close()


def run_check_summary(*, run: Run) -> dict:
    """For the provenance badge: how the run reproduced and how its figures compared."""
    cells = list(run.results.values_list("checks", flat=True))
    reproductions = [c["reproduction"] for c in cells if c.get("reproduction")]
    allowed = sum(1 for c in cells if c.get("nondeterministic_allowed"))
    checked = [
        r
        for c, r in ((c, c.get("reproduction")) for c in cells)
        if r and not c.get("nondeterministic_allowed")
    ]
    figures = [f for c in cells for f in c.get("figures", [])]
    references = [c.get("reference") for c in cells]
    reproduced = None
    if run.twice and reproductions:
        reproduced = "2/2" if all(r["reproduced"] for r in checked) else "1/2"
    elif cells and all(references):
        # A re-verification that reproduced the verified run's stored outputs: two runs agree.
        reproduced = "2/2" if all(r["reproduced"] for r in references) else "1/2"
    return {
        "reproduced": reproduced,
        "nondeterministic_cells": allowed,
        "figures_total": RunFigure.objects.filter(cell__run=run).count(),
        "figures_approved": len(figures),
        "figures_all_match": bool(figures) and all(f.get("match") for f in figures),
    }
