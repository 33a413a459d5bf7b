"""The worker's half of "try it": run a claimed job in the fork server and store its result.

The job (prefix cells, the edited cell, data files, limits) was put in the try-it store by
runner.tryit.start_try_run; the message carries only the token. The published cells before
the edited one run once per fork server in a checkpoint kept warm (runner.engine.checkpoint),
and each run forks a re-isolated child from it: the same layers as a verification run (fresh
root, namespaces, seccomp, the worker's sandbox uid, a private /tmp) plus a user namespace of
its own, under the profile's stricter limits. Nothing is written to the database.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import replace

from django.conf import settings

from runner.engine.protocol import CellResult, CellStatus, Limits
from runner.tryit_store import store

logger = logging.getLogger(__name__)

# A published cell that ran to its end, whatever its output: the edited cell may follow it.
PREFIX_OK = frozenset(
    {
        CellStatus.PASSED,
        CellStatus.RAN,
        CellStatus.MISMATCH,
        CellStatus.FIGURE_MISMATCH,
        CellStatus.NONDETERMINISTIC,
    }
)
DETAILS = {
    CellStatus.ERROR: "The cell raised an exception (traceback below).",
    CellStatus.TIMEOUT: "The cell ran past the try-it time limit and was stopped.",
    CellStatus.MEMORY_LIMIT: "The cell used more memory than a try-it run may and was stopped.",
    CellStatus.OUTPUT_LIMIT: "The cell printed or drew more than a try-it run may show and was stopped.",
    CellStatus.CRASHED: "The sandbox running the cell stopped unexpectedly.",
    CellStatus.SKIPPED: "The cell did not run.",
}


def execute(*, token: str, server) -> dict | None:
    """Run the job of ``token`` on ``server`` (a ForkServer); None if it was gone or taken."""
    job = store().claim(token)
    if job is None:
        return None
    started = time.monotonic()
    limits = replace(server.limits if isinstance(server.limits, Limits) else Limits(), **job["limits"])
    files = {name: base64.b64decode(data) for name, data in job["files"].items()}
    try:
        total = len(job["cells"])
        store().set_progress(token, progress={"done": 0, "total": total})
        checkpoint = {
            "max": settings.TRYIT_CHECKPOINTS,
            "budget_bytes": settings.TRYIT_CHECKPOINT_BUDGET_BYTES,
        }
        def progress(done: int) -> None:
            store().set_progress(token, progress={"done": done, "total": total})

        with server.run_answer(
            job["cells"], limits=limits, files=files, checkpoint=checkpoint, on_progress=progress
        ) as answer_run:
            for done, _ in enumerate(answer_run, start=1):
                if done < total:  # live progress: the published cells before the edited one
                    store().set_progress(token, progress={"done": done, "total": total})
            results, info = answer_run.results, answer_run.info
    except Exception as exc:  # the run must end for the reader whatever broke
        logger.exception("try-it run failed in the worker")
        results, info = [], None
        crash = f"The try-it worker could not run it: {exc}"
    else:
        crash = info.detail if info is not None and info.outcome == "crashed" else ""
    result = summarise(job["cells"], results, crash=crash)
    sandbox = info.sandbox if info is not None else {}
    if result["prefix"] == "ran" and sandbox.get("checkpoint") == "warm":
        result["prefix"] = "warm"  # the published cells' state came from a checkpoint
    result["checkpoint"] = sandbox.get("checkpoint") or "none"
    if job.get("report_prefix"):
        result["cells"] = prefix_results(job["cells"], results)
    result["total_ms"] = round((time.monotonic() - started) * 1000)
    store().put_result(token, result)
    logger.info(
        "try-it run finished: %s (prefix %s, %s ms)", result["status"], result["prefix"], result["total_ms"]
    )
    return result


def summarise(cells: list[dict], results: list[CellResult], *, crash: str = "") -> dict:
    """What the reader sees: the edited (last) cell's result, or why it did not run."""
    by_index = {r.index: r for r in results}
    for position, cell in enumerate(cells[:-1]):
        done = by_index.get(cell["index"])
        if done is None or done.status not in PREFIX_OK:
            status = done.status if done else CellStatus.CRASHED
            why = (done.error or "").strip().splitlines()[-1:] if done else [crash]
            return _result(
                status="prefix_failed",
                prefix="failed",
                detail=f"Published cell {position + 1} failed before yours could run ({status}): "
                + (why[0] if why else "no detail"),
            )
    edited = by_index.get(cells[-1]["index"])
    if edited is None:
        return _result(
            status=str(CellStatus.CRASHED), prefix="ran", detail=crash or DETAILS[CellStatus.CRASHED]
        )
    return _result(prefix="ran", **cell_view(edited))


def prefix_results(cells: list[dict], results: list[CellResult]) -> list[dict]:
    """Each published (prefix) cell's own result, in order, as far as the run got."""
    prefix = {cell["index"] for cell in cells[:-1]}
    return [{"index": r.index, **cell_view(r)} for r in results if r.index in prefix]


def cell_view(done: CellResult) -> dict:
    """One cell's result as the page shows it: output, stderr, error, figures, a status and why."""
    status = CellStatus.RAN if done.status == CellStatus.PASSED else done.status
    error = done.error or ""
    traceback = error if status == CellStatus.ERROR else ""
    last_line = next((line for line in reversed(error.splitlines()) if line.strip()), "")
    detail = ""
    if status != CellStatus.RAN:
        detail = DETAILS.get(status, "The cell did not finish.")
        if status != CellStatus.ERROR and error:
            detail = f"{detail} ({last_line})"
    return {
        "status": str(status),
        "detail": detail,
        "stdout": done.output,
        "stderr": done.stderr,
        "error": last_line if status == CellStatus.ERROR else error,
        "traceback": traceback,
        "figures": [
            {"title": title, "png_base64": base64.b64encode(png).decode()}
            for png, title in zip(done.figures, done.figure_titles + [""] * len(done.figures), strict=False)
        ],
        "displays": done.displays,
        "elapsed_ms": round(done.duration_s * 1000),
    }


def _result(*, status: str, prefix: str, detail: str, **fields) -> dict:
    result = {
        "state": "done", "status": status, "stdout": "", "stderr": "", "error": "", "traceback": "",
        "figures": [], "displays": [], "elapsed_ms": 0, "prefix": prefix, "detail": detail,
    }  # fmt: skip
    result.update(fields)
    return result
