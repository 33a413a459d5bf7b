"""A run read back: its stored results, provenance, figures, reference outputs and data files,
as plain data for the pages, exports and re-verification (nothing here writes)."""

from __future__ import annotations

from .checked_runs import run_check_summary
from .engine.cascade import after_failures, first_failure
from .isolation_policy import run_isolated, run_layers_missing
from .models import DataFile, Run, RunFigure


def run_data_files(*, run: Run) -> dict[str, bytes]:
    """{name: content} of the run's data files, for the sandbox."""
    if not run.files:
        return {}
    contents = dict(
        DataFile.objects.filter(sha256__in=[f["sha256"] for f in run.files]).values_list("sha256", "content")
    )
    return {f["name"]: bytes(contents[f["sha256"]]) for f in run.files}


def run_get(*, run_id: int) -> Run | None:
    return Run.objects.filter(pk=run_id).first()


def run_results(*, run: Run) -> dict[int, dict]:
    """Each stored cell result as plain data for rendering, keyed by cell index."""
    cells = list(run.results.prefetch_related("figures"))
    after = after_failures((cell.index, cell.status) for cell in cells)
    return {
        cell.index: {
            "status": cell.status,
            "status_label": cell.get_status_display(),
            "ok": cell.ok,
            "output": cell.output,
            "expected": cell.expected,
            "stderr": cell.stderr,
            "error": cell.error,
            "duration_s": cell.duration_s,
            "figures": [{"url": figure.image.url, "title": figure.title} for figure in cell.figures.all()],
            "checks": cell.checks or {},
            # The first earlier cell that stopped part-way, when this one failed after it.
            "after_failure": after.get(cell.index),
            "displays": cell.displays or [],
        }
        for cell in cells
    }


def run_first_failure(*, results: dict[int, dict]) -> int | None:
    """The index of the first cell that failed on its own account, from run_results()."""
    return first_failure((index, result["status"]) for index, result in results.items())


def run_provenance(*, run: Run) -> dict:
    fingerprint = run.fingerprint or {}
    return {
        "run_id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished_at": run.finished_at,
        "started_at": run.started_at,
        "python": fingerprint.get("python"),
        "torch": fingerprint.get("torch"),
        "numpy": fingerprint.get("numpy"),
        "matplotlib": fingerprint.get("matplotlib"),
        "device": fingerprint.get("device"),
        "device_name": fingerprint.get("device_name"),
        "cuda": fingerprint.get("cuda"),
        "worker": run.worker,
        "cells": run.cell_count,
        "duration_s": run.duration_s,
        "sandbox": run.sandbox,
        "isolated": run_isolated(run.sandbox or {}),
        "layers_missing": run_layers_missing(run.sandbox or {}),
        "detail": run.detail,
        **run_check_summary(run=run),  # "reproduced 2/2", "figures: k of n approved"
    }


def outputs_match(*, expected: str, actual: str, tol: float | None = None) -> bool:
    """The verification comparison (whitespace, `...`, tolerance), for callers outside runner."""
    from .engine.compare import matches

    return matches(expected, actual, tol=tol)


def run_figure_images(*, run: Run) -> dict[int, list[bytes]]:
    """The PNG bytes of each cell's figures, keyed by cell index (for notebook export)."""
    images: dict[int, list[bytes]] = {}
    for figure in (
        RunFigure.objects.filter(cell__run=run).select_related("cell").order_by("cell__index", "position")
    ):
        with figure.image.open("rb") as handle:
            images.setdefault(figure.cell.index, []).append(handle.read())
    return images


def run_figure_png(*, run_id: int, cell_index: int, position: int) -> bytes | None:
    """One figure of a run's cell as PNG bytes (what staff approve), or None."""
    figure = RunFigure.objects.filter(cell__run_id=run_id, cell__index=cell_index, position=position).first()
    if figure is None:
        return None
    with figure.image.open("rb") as handle:
        return handle.read()


def run_reference(*, run: Run) -> dict[int, dict]:
    """A verified run's stored outputs per cell index, for a later re-verification to compare
    with (drift is "stopped passing" with the exact difference)."""
    reference = {}
    for cell in run.results.prefetch_related("figures"):
        reference[cell.index] = {
            "run": run.pk,
            "status": cell.status,
            "output": cell.output,
            "figures": [figure.image.name for figure in cell.figures.all()],
        }
    return reference
