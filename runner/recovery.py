"""Recovery: runs that nothing would finish otherwise are queued again, and runs that cannot
go on end with a reason.

A run is sent again when its message never reached the broker, when the worker start running
it stopped beating (or restarted under the same name), and when an infrastructure fault ended
its attempt; after MAX_ATTEMPTS, or when it cannot be recorded at all, it ends as failed (or
`fault`), never left running.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import faults
from .attempts import MAX_ATTEMPTS, enqueue, hold
from .models import CellStatus, Run, RunCell, RunStatus
from .signals import run_finished
from .workers import worker_is_live

logger = logging.getLogger(__name__)


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
            transaction.on_commit(lambda: enqueue(run.pk, run.queue, run.attempts))
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
        enqueue(run.pk, run.queue, run.attempts)
    # Past the task's hard time limit nothing can still be running it, even on a live worker
    # (e.g. one whose database went away while it ended the run).
    overdue = timezone.now() - timedelta(seconds=settings.RUNNER_RUN_DEADLINE_S)
    orphaned = [
        run
        for run in Run.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff)
        if run.started_at < overdue or not worker_is_live(run.worker, run.worker_instance)
    ]
    return len(never_sent) + sum(_requeue_orphan(run) for run in orphaned)


def run_requeue_orphans_of(*, worker: str, instance: str) -> int:
    """A worker that starts again under its old name takes back what its previous start was
    running: nothing else would (the old messages return only after the visibility timeout)."""
    orphaned = Run.objects.filter(status=RunStatus.RUNNING, worker=worker).exclude(worker_instance=instance)
    return sum(_requeue_orphan(run) for run in orphaned)


def give_up(run: Run, detail: str, *, first_status: str = CellStatus.CRASHED) -> None:
    """End the run as failed with `detail`: its first cell without a stored result gets
    `first_status` and the reason, the later ones `skipped`."""
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
            give_up(run, detail, first_status=CellStatus.ERROR)
    except Exception:
        # A receiver of run_finished failed too: still end the run itself, without them.
        logger.exception("run_finished receivers failed for run %s; marking it failed alone", run_id)
        Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, detail=detail, finished_at=timezone.now()
        )


def run_requeue_after_fault(*, run: Run, fault: str) -> Run:
    """An infrastructure fault ended this attempt: queue the run again, as
    for a lost worker, with this attempt's partial results dropped so the next attempt stores
    one result per cell; after MAX_ATTEMPTS the run ends as `fault`, its cells unrecorded
    (nothing is known of them), never as a failure of the answer."""
    fault = fault[:2000]

    def write(_retry: bool) -> Run:
        with transaction.atomic():
            if run.attempts >= MAX_ATTEMPTS:
                hold(run, status=RunStatus.FAULT, fault=fault, finished_at=timezone.now(), cells_done=0)
                run.results.all().delete()
                run.refresh_from_db()
                run_finished.send(sender=Run, run=run)
                return run
            hold(run, status=RunStatus.QUEUED, fault=fault, queued_at=None, cells_done=0)
            run.results.all().delete()
            transaction.on_commit(lambda: enqueue(run.pk, run.queue, run.attempts))
        run.refresh_from_db()
        return run

    return faults.retrying_db(write, budget_s=faults.DB_RETRY_BUDGET_S * 2)
