"""Run state transitions in runner.services, on the real database (no worker needed)."""

import pytest

from runner.models import Run, RunCell, RunStatus, Worker
from runner.services import MAX_ATTEMPTS, run_start

pytestmark = pytest.mark.django_db

CELLS = [
    {"index": i, "line": 1 + 4 * i, "code": "1", "expected": None,
     "options": {"timeout": 5, "device": "cpu", "raises": None, "tol": None, "hide": False}}
    for i in range(3)
]  # fmt: skip


def test_a_job_that_killed_its_worker_every_time_ends_as_crashed_instead_of_looping():
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.RUNNING, attempts=MAX_ATTEMPTS)
    RunCell.objects.create(run=run, index=0, line=1, status="ran", output="1")
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True) is None
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "3 times" in run.detail
    assert list(run.results.values_list("index", "status")) == [(0, "ran"), (1, "crashed"), (2, "skipped")]


def test_a_finished_run_is_never_run_twice():
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.VERIFIED, attempts=1)
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True) is None
    run.refresh_from_db()
    assert run.attempts == 1


def test_a_duplicate_message_for_a_run_another_live_worker_holds_is_dropped():
    from django.utils import timezone

    Worker.objects.create(
        name="busy@host", queues=["cpu"], started_at=timezone.now(), last_heartbeat=timezone.now()
    )
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.RUNNING, worker="busy@host", attempts=1)
    assert run_start(run_id=run.pk, worker="other@host") is None
    # ...but a redelivery (the holder stopped acknowledging) takes it over.
    taken = run_start(run_id=run.pk, worker="other@host", redelivered=True)
    assert taken is not None and taken.worker == "other@host" and taken.attempts == 2
