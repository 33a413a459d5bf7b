"""Every write to runner's tables, and every run state transition, happens here."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import faults
from .checked_runs import run_check_summary, store_once
from .engine.cascade import after_failures, first_failure
from .engine.fingerprint import environment_fingerprint, execution_key
from .engine.specs import cells_from_json, queue_for
from .isolation_policy import run_isolated, run_layers_missing
from .models import (
    FINISHED,
    OK_CELL_STATUSES,
    CellStatus,
    DataFile,
    Run,
    RunCell,
    RunFigure,
    RunStatus,
    Worker,
    figure_storage_path,
)
from .publishing import send_run
from .signals import cell_finished, run_finished

logger = logging.getLogger(__name__)

# A job that killed its worker this many times ends as crashed instead of looping.
MAX_ATTEMPTS = 3


def _live_window() -> timedelta:
    """A worker is live while its heartbeat is younger than this (it beats every few seconds)."""
    return timedelta(seconds=settings.RUNNER_WORKER_LIVE_WINDOW_S)


def live_workers(*, queue: str | None = None):
    workers = Worker.objects.filter(last_heartbeat__gte=timezone.now() - _live_window())
    if queue:
        workers = [w for w in workers if queue in w.queues]
    return list(workers)


_POOL_FINGERPRINT_TTL_S = 10.0
_pool_fingerprints: dict[str, tuple[float, dict]] = {}


def pool_fingerprint(*, queue: str) -> dict:
    """The environment a run on this queue gets: the freshest worker's, else this machine's.

    Kept for a few seconds per process: workers change environment on a deploy, not per run.
    """
    cached = _pool_fingerprints.get(queue)
    if cached is not None and time.monotonic() - cached[0] < _POOL_FINGERPRINT_TTL_S:
        return cached[1]
    fingerprint = next(
        (
            w.fingerprint
            for w in Worker.objects.order_by("-last_heartbeat")
            if queue in w.queues and w.fingerprint
        ),
        None,
    )
    if fingerprint is None:
        return environment_fingerprint()  # no worker yet: not cached, so the first one counts
    _pool_fingerprints[queue] = (time.monotonic(), fingerprint)
    return fingerprint


class Superseded(Exception):
    """This attempt no longer holds its run (a later attempt took it over, or it ended): its
    writes are refused, so a run never gets a second set of results."""


def _enqueue(run_id: int, queue: str, attempt: int) -> None:
    try:
        # `attempt`: the attempts the run has now; a message that comes back after a later
        # attempt claimed the run (Redis's visibility timeout) is then recognisably stale.
        send_run(run_id=run_id, queue=queue, attempt=attempt)
    except Exception:
        # Broker down, or not taking messages (a RabbitMQ alarm): the run stays queued and
        # run_requeue_stale sends it later. A message that reached the broker unconfirmed is
        # then sent twice; run_start runs the run once whichever copy comes first.
        logger.exception("Could not queue run %s; it stays queued for the sweep", run_id)
        return
    # The message is in the broker: the sweep leaves this run alone from now on.
    Run.objects.filter(pk=run_id).update(queued_at=timezone.now())


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
    transaction.on_commit(lambda: _enqueue(run.pk, queue, 0))
    return run


def _worker_is_live(name: str, instance: str | None = None) -> bool:
    """A worker of that name beats; with `instance`, that very start of it (not a restart)."""
    workers = Worker.objects.filter(name=name, last_heartbeat__gte=timezone.now() - _live_window())
    if instance:
        workers = workers.filter(instance=instance)
    return workers.exists()


def _requeue_orphan(run: Run) -> bool:
    """Put a run whose worker died back in the queue, once: the conditional UPDATE makes two
    sweeps (or a sweep and a restarted worker) racing for the same run send it only once."""
    with transaction.atomic():
        taken = Run.objects.filter(
            pk=run.pk,
            status=RunStatus.RUNNING,
            worker=run.worker,
            worker_instance=run.worker_instance,
            attempts=run.attempts,
        ).update(status=RunStatus.QUEUED, queued_at=None)
        if taken:
            transaction.on_commit(lambda: _enqueue(run.pk, run.queue, run.attempts))
    return bool(taken)


def run_requeue_stale(*, older_than: timedelta | None = None) -> int:
    """Send again the runs nothing will finish otherwise:

    - queued, but their message never reached the broker (it was down when they were
      requested): a run whose message is in the broker is not sent twice;
    - running on a worker start that stopped beating, including a worker restarted under the
      same name (its new start has another instance id).
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.RUNNER_REQUEUE_STALE_AFTER_S)
    cutoff = timezone.now() - older_than
    never_sent = list(
        Run.objects.filter(
            status__in=[RunStatus.QUEUED, RunStatus.WAITING_GPU],
            queued_at__isnull=True,
            requested_at__lt=cutoff,
        ).only("pk", "queue", "attempts")
    )
    for run in never_sent:
        _enqueue(run.pk, run.queue, run.attempts)
    # Past the task's hard time limit nothing can still be running it, even on a live worker
    # (e.g. one whose database went away while it ended the run).
    overdue = timezone.now() - timedelta(seconds=settings.RUNNER_RUN_DEADLINE_S)
    orphaned = [
        run
        for run in Run.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff)
        if run.started_at < overdue or not _worker_is_live(run.worker, run.worker_instance)
    ]
    return len(never_sent) + sum(_requeue_orphan(run) for run in orphaned)


def run_requeue_orphans_of(*, worker: str, instance: str) -> int:
    """A worker that starts again under its old name takes back what its previous start was
    running: nothing else would (the old messages return only after the visibility timeout)."""
    orphaned = Run.objects.filter(status=RunStatus.RUNNING, worker=worker).exclude(worker_instance=instance)
    return sum(_requeue_orphan(run) for run in orphaned)


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
        held = run.status == RunStatus.RUNNING and _worker_is_live(run.worker, run.worker_instance)
        if held and not redelivered:
            return None
        run.attempts += 1
        if run.attempts > MAX_ATTEMPTS:
            _give_up(run, f"The run stopped its worker {MAX_ATTEMPTS} times; not trying again.")
            return None
        run.status = RunStatus.RUNNING
        run.worker = worker
        run.worker_instance = instance
        run.started_at = timezone.now()
        run.save(update_fields=["attempts", "status", "worker", "worker_instance", "started_at"])
        return run


def _give_up(run: Run, detail: str, *, first_status: str = CellStatus.CRASHED) -> None:
    done = set(run.results.values_list("index", flat=True))
    for position, cell in enumerate(run.cells):
        if position not in done:
            status = first_status if position == len(done) else CellStatus.SKIPPED
            RunCell.objects.update_or_create(
                run=run,
                index=position,
                defaults={
                    "line": cell.get("line", 0),
                    "status": status,
                    "expected": cell.get("expected"),
                    "error": detail if status != CellStatus.SKIPPED else "",
                },
            )
    run.status = RunStatus.FAILED
    run.detail = detail
    run.finished_at = timezone.now()
    run.cells_done = len(run.cells)
    run.save(update_fields=["status", "detail", "finished_at", "cells_done"])
    run_finished.send(sender=Run, run=run)


def run_fail(*, run_id: int, detail: str) -> None:
    """End a run that could not be recorded or finished as failed, so it never stays running.

    Its first cell without a stored result is `error` with the reason; later ones `skipped`.
    """
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.is_finished:
        return
    try:
        with transaction.atomic():
            _give_up(run, detail, first_status=CellStatus.ERROR)
    except Exception:
        # A receiver of run_finished failed too: still end the run itself, without them.
        logger.exception("run_finished receivers failed for run %s; marking it failed alone", run_id)
        Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, detail=detail, finished_at=timezone.now()
        )


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


def _hold(run: Run, **fields) -> None:
    """Update the run only while this attempt still holds it (and lock the row till the commit);
    Superseded otherwise."""
    held = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempts=run.attempts).update(**fields)
    if not held:
        raise Superseded(f"run {run.pk} is no longer held by attempt {run.attempts}")


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
        _hold(run, cells_done=result.index + 1)  # first: refused for a superseded attempt
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
    _hold(run, **fields)
    for name, value in fields.items():
        setattr(run, name, value)
    run_finished.send(sender=Run, run=run)
    return run


def run_requeue_after_fault(*, run: Run, fault: str) -> Run:
    """An infrastructure fault ended this attempt: queue the run again, as
    for a lost worker, with this attempt's partial results dropped so the next attempt stores
    one result per cell; after MAX_ATTEMPTS the run ends as `fault`, its cells unrecorded
    (nothing is known of them), never as a failure of the answer."""
    fault = fault[:2000]

    def write(_retry: bool) -> Run:
        with transaction.atomic():
            if run.attempts >= MAX_ATTEMPTS:
                _hold(run, status=RunStatus.FAULT, fault=fault, finished_at=timezone.now(), cells_done=0)
                run.results.all().delete()
                run.refresh_from_db()
                run_finished.send(sender=Run, run=run)
                return run
            _hold(run, status=RunStatus.QUEUED, fault=fault, queued_at=None, cells_done=0)
            run.results.all().delete()
            transaction.on_commit(lambda: _enqueue(run.pk, run.queue, run.attempts))
        run.refresh_from_db()
        return run

    return faults.retrying_db(write, budget_s=faults.DB_RETRY_BUDGET_S * 2)


def worker_heartbeat(
    *, name: str, queues: list[str], fingerprint: dict, started_at=None, instance: str = ""
) -> None:
    now = timezone.now()
    Worker.objects.update_or_create(
        name=name,
        defaults={
            "instance": instance,
            "queues": queues,
            "device": fingerprint.get("device", "cpu"),
            "fingerprint": fingerprint,
            "last_heartbeat": now,
            "started_at": started_at or now,
        },
    )


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
