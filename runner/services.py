"""A run's way through, and its writes: requested (or found by its execution key), claimed by
a worker's attempt, each cell's result stored as it arrives, finished.

What happens when that way is broken (a lost worker, a fault, a run that cannot be recorded)
is runner.recovery; reading a run back is runner.results; the workers' liveness and the pool's
environment are runner.workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from django.db import connection, transaction
from django.utils import timezone

from . import faults
from .attempts import MAX_ATTEMPTS, Superseded, enqueue, hold
from .checked_runs import store_once
from .engine.fingerprint import environment_fingerprint, execution_key
from .engine.specs import cells_from_json, queue_for
from .models import (
    FINISHED,
    OK_CELL_STATUSES,
    DataFile,
    Run,
    RunCell,
    RunFigure,
    RunStatus,
    figure_storage_path,
)
from .recovery import give_up, run_fail, run_requeue_after_fault
from .results import run_data_files
from .signals import cell_finished, run_finished
from .workers import live_workers, pool_fingerprint, worker_is_live

logger = logging.getLogger(__name__)


def _data_files_store(files: dict[str, bytes]) -> list[dict]:
    """Store each content once (by hash); the run keeps [{"name", "sha256", "size"}]."""
    listed = []
    for name, content in sorted(files.items()):
        digest = hashlib.sha256(content).hexdigest()
        DataFile.objects.get_or_create(sha256=digest, defaults={"content": content, "size": len(content)})
        listed.append({"name": name, "sha256": digest, "size": len(content)})
    return listed


@transaction.atomic
def run_request(
    *, cells: list[dict], force: bool = False, twice: bool = False, files: dict[str, bytes] | None = None
) -> Run:
    """A run for these cells: a finished one with the same execution key, or a new queued one.

    ``files`` ({name: content}) are the answer's data files: their names and content hashes
    are part of the execution key, so changing a file runs the cells again. The job is sent
    after the surrounding transaction commits, so a worker never looks for a run that is not
    yet visible.
    """
    queue = queue_for(cells)
    key = execution_key(cells_from_json(cells), pool_fingerprint(queue=queue))
    approvals = [c.get("approved") for c in cells]
    if any(approvals):
        # What the figures are compared with is part of what the run checks.
        key = hashlib.sha256(json.dumps([key, approvals], sort_keys=True).encode()).hexdigest()
    listed = _data_files_store(files) if files else []
    if listed:
        hashes = [[f["name"], f["sha256"]] for f in listed]
        key = hashlib.sha256(json.dumps([key, {"files": hashes}]).encode()).hexdigest()
    if not force:
        # Finished or still in flight: either way nothing new executes for the same key.
        existing = Run.objects.filter(key=key).order_by("-requested_at").first()
        if existing is not None:
            return existing
    waiting_gpu = queue == "gpu" and not live_workers(queue="gpu")
    run = Run.objects.create(
        key=key,
        cells=cells,
        queue=queue,
        forced=force,
        twice=twice,
        files=listed,
        status=RunStatus.WAITING_GPU if waiting_gpu else RunStatus.QUEUED,
    )
    transaction.on_commit(lambda: enqueue(run.pk, queue, 0))
    return run


def _claim_queued(*, run_id: int, worker: str, instance: str, attempts: int | None) -> Run | None:
    """UPDATE … RETURNING: claim and load the run at once (PostgreSQL; SQLite >= 3.35)."""
    table = connection.ops.quote_name(Run._meta.db_table)
    started_at = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [RunStatus.RUNNING, worker, instance, started_at, run_id]
    params += [RunStatus.QUEUED, RunStatus.WAITING_GPU]
    same_attempt = ""
    if attempts is not None:
        same_attempt, params = " AND attempts = %s", [*params, attempts]
    rows = list(
        Run.objects.raw(
            f"UPDATE {table} SET status = %s, worker = %s, worker_instance = %s, started_at = %s, "  # noqa: S608 (table name from the model; values are parameters)
            f"attempts = attempts + 1 WHERE id = %s AND status IN (%s, %s){same_attempt} RETURNING *",
            params,
        )
    )
    return rows[0] if rows else None


def run_start(
    *,
    run_id: int,
    worker: str,
    instance: str = "",
    redelivered: bool = False,
    sent_at_attempt: int | None = None,
) -> Run | None:
    """Claim a run for this attempt; None when there is nothing (left) to do.

    A redelivered job (its worker died before acknowledging it) takes the run over; any other
    second message for a run that a live worker is running is a duplicate and is dropped.
    `sent_at_attempt` (the run's attempts when the message was sent; None: unknown) makes a
    message that a later attempt has superseded a no-op, even when it comes back redelivered.
    """
    # The common case in one round trip: a queued run, claimed by the first job that arrives.
    claimed = _claim_queued(run_id=run_id, worker=worker, instance=instance, attempts=sent_at_attempt)
    if claimed is not None:
        return claimed
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in FINISHED:
            return None  # a redelivered job whose run already finished: nothing to do
        # This message's own claim is attempt sent_at_attempt + 1; any other count means the
        # run was queued again (a lost worker, a fault) and a newer message carries it now.
        own = sent_at_attempt is None or run.attempts == sent_at_attempt + (run.status == RunStatus.RUNNING)
        if not own:
            return None
        # A duplicate message while a live worker start (this one included, in another pool
        # process) is on it; a start that stopped beating or restarted has lost it.
        held = run.status == RunStatus.RUNNING and worker_is_live(run.worker, run.worker_instance)
        if held and not redelivered:
            return None
        run.attempts += 1
        if run.attempts > MAX_ATTEMPTS:
            give_up(run, f"The run stopped its worker {MAX_ATTEMPTS} times; not trying again.")
            return None
        run.status = RunStatus.RUNNING
        run.worker = worker
        run.worker_instance = instance
        run.started_at = timezone.now()
        run.save(update_fields=["attempts", "status", "worker", "worker_instance", "started_at"])
        return run


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL, nor a lone surrogate (a cell's exception message or
    figure title may carry one through the child's JSON report): each is stored and shown as
    U+FFFD.

    The engine compares the raw output first, so the cell's status is unaffected; the stored
    text only replaces the characters the database refuses."""
    return _UNSTORABLE.sub("\ufffd", text) if text else text


def _store_figure(cell: RunCell, position: int, png: bytes, title: str = "") -> None:
    digest = RunFigure.digest(png)
    figure = RunFigure(cell=cell, position=position, sha256=digest, title=_storable(title) or "")
    path = figure_storage_path(digest)  # content-hash names: the same image is stored once
    store_once(path, png)
    figure.image.name = path
    figure.save()


def run_record_cell(*, run: Run, result, checks: dict | None = None, replace: bool = False) -> RunCell:
    """Store one cell's result as soon as it arrives; idempotent for a redelivered job.

    `replace`: the row may exist already (a retried write whose first try committed)."""
    fields = {
        "checks": checks or {},
        "line": result.line,
        "status": str(result.status),
        "output": _storable(result.output),
        "expected": _storable(result.expected),
        "stderr": _storable(result.stderr),
        "error": _storable(result.error) or "",
        "duration_s": result.duration_s,
        "peak_memory_bytes": result.peak_memory_bytes,
        "displays": [
            {**item, "content": _storable(item["content"]), "text": _storable(item["text"])}
            for item in result.displays
        ],
    }
    with transaction.atomic():
        hold(run, cells_done=result.index + 1)  # first: refused for a superseded attempt
        if run.attempts <= 1 and not replace:
            # First attempt: no earlier row can exist, so one INSERT (the unique constraint
            # still guards against a second result for the cell).
            cell = RunCell.objects.create(run=run, index=result.index, **fields)
        else:
            cell, _ = RunCell.objects.update_or_create(run=run, index=result.index, defaults=fields)
            cell.figures.all().delete()
        titles = result.figure_titles
        for position, png in enumerate(result.figures):
            _store_figure(cell, position, png, titles[position] if position < len(titles) else "")
    cell_finished.send(sender=Run, run=run, cell=cell)
    return cell


@transaction.atomic  # receivers of run_finished commit with the status: no half-updated page
def run_finish(*, run: Run, fingerprint: dict, sandbox: dict, detail: str = "") -> Run:
    statuses = list(run.results.values_list("status", flat=True))
    verified = len(statuses) == len(run.cells) and all(s in OK_CELL_STATUSES for s in statuses)
    fields = {
        "status": RunStatus.VERIFIED if verified else RunStatus.FAILED,
        "fingerprint": fingerprint,
        "sandbox": sandbox,
        "detail": detail,
        "cells_done": len(statuses),
        "finished_at": timezone.now(),
    }
    hold(run, **fields)
    for name, value in fields.items():
        setattr(run, name, value)
    run_finished.send(sender=Run, run=run)
    return run


def run_execute(*, run: Run, server, second_server=None) -> Run:
    """Run the cells on this worker's fork server, storing each result as it arrives."""
    # Closing on any error cancels the sandbox and drains the server, so a failed write never
    # leaves this run's late frames to be read as the next run's results.
    try:
        if run.twice or any(cell.get("approved") or cell.get("reference") for cell in run.cells):
            from .checked_runs import run_execute_checked  # second run, approved figures

            return run_execute_checked(run=run, server=server, second_server=second_server)
        with server.run_answer(run.cells, files=run_data_files(run=run)) as answer_run:
            for result in answer_run:
                faults.check_result(result)
                run_record_store(run=run, result=result)
        info = answer_run.info
        return faults.retrying_db(
            lambda _retry: run_finish(
                run=run,
                fingerprint=environment_fingerprint(),
                sandbox=info.sandbox if info else {},
                detail=info.detail if info else "",
            )
        )
    except Superseded:
        logger.warning("Run %s was taken over by a later attempt; this attempt stops", run.pk)
        return run
    except Exception as exc:
        fault = faults.describe(exc)
        if fault is not None:
            logger.exception("Run %s met an infrastructure fault; queueing it again", run.pk)
            return _after_fault(run, fault)
        # Any failure to run, record or finish ends the run with a reason, never leaves it
        # running; the traceback goes to the worker's log. If even that write
        # fails (the database is away), the sweep picks the run up after its deadline.
        logger.exception("Run %s could not be completed or stored; marking it failed", run.pk)
        detail = f"The worker could not complete or store this run ({type(exc).__name__}: {exc})."
        try:
            run_fail(run_id=run.pk, detail=detail[:2000])
            run.refresh_from_db()
        except Exception:
            logger.exception("Run %s could not be marked failed; the sweep will send it again", run.pk)
        return run


def run_record_store(*, run: Run, result, checks: dict | None = None) -> RunCell:
    """run_record_cell, again on a new connection while the database is away."""
    return faults.retrying_db(
        lambda retry: run_record_cell(run=run, result=result, checks=checks, replace=retry)
    )


def _after_fault(run: Run, fault: str) -> Run:
    try:
        return run_requeue_after_fault(run=run, fault=fault)
    except Superseded:
        return run
    except Exception:
        # The database stayed away past every retry: the run is still `running`, and the sweep
        # sends it again after its deadline (RUNNER_RUN_DEADLINE_S).
        logger.exception("Run %s could not be queued again; the sweep will send it", run.pk)
        return run
