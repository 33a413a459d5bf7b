"""Runs that a worker could not finish are finished anyway: through real worker processes,
Redis and PostgreSQL."""

import pytest

from runner.models import Run, RunCell, RunStatus, Worker
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 30, "device": "cpu", "raises": None, "tol": None, "hide": False}


def _cell(index: int, code: str, expected: str | None = None) -> dict:
    return {"index": index, "line": 1 + 5 * index, "code": code, "expected": expected, "options": OPTIONS}


def _finished(run_id):
    run = Run.objects.get(pk=run_id)
    return run if run.is_finished else None


def test_a_worker_killed_and_restarted_under_the_same_hostname_finishes_its_run_once(start_worker, broker):
    # The default visibility timeout (3600 s) stays: the unacknowledged message must not be
    # what brings the run back. Heartbeats every second so the restart is seen at once.
    fast = {"RUNNER_HEARTBEAT_INTERVAL_S": "1"}
    first = start_worker("phoenix", queues="phoenix", **fast)
    cells = [_cell(0, "import time\ntime.sleep(3)\n'slept'"), _cell(1, "1 + 1", "2")]
    run = Run.objects.create(key="restart-test", cells=cells, queue="phoenix")
    execute_run.apply_async((run.pk,), queue="phoenix")
    wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.RUNNING, timeout=60)
    first_instance = Run.objects.get(pk=run.pk).worker_instance
    assert first_instance and Worker.objects.get(name="phoenix@test").instance == first_instance
    first.kill()

    start_worker("phoenix", queues="phoenix", **fast)  # same hostname: phoenix@test
    run = wait_for(lambda: _finished(run.pk), timeout=60)
    assert run.status == RunStatus.VERIFIED, run.detail
    assert run.worker == "phoenix@test" and run.worker_instance != first_instance
    assert run.attempts == 2
    assert list(RunCell.objects.filter(run=run).values_list("index", "status")) == [(0, "ran"), (1, "passed")]
    assert broker.llen("phoenix") == 0  # no second message left to run it again


def test_a_cell_printing_a_nul_byte_finishes_its_run(cpu_worker):
    cells = [_cell(0, "print('a\\x00b')"), _cell(1, "'after'", "'after'")]
    run = Run.objects.create(key="nul-test", cells=cells, queue="cpu")
    execute_run.apply_async((run.pk,), queue="cpu")
    run = wait_for(lambda: _finished(run.pk), timeout=60)
    assert run.status == RunStatus.VERIFIED, run.detail
    assert list(run.results.values_list("status", "output")) == [("ran", "a\ufffdb\n"), ("passed", "'after'")]


def test_the_sweep_sends_only_runs_whose_message_never_reached_the_broker(own_broker):
    """A backlog of queued runs must not gain a duplicate message per sweep."""
    from datetime import timedelta

    import redis
    from django.utils import timezone

    from runner.recovery import run_requeue_stale
    from runner.services import run_request

    own_broker.stop()
    lost = run_request(cells=[_cell(0, "'broker down'")], force=True)  # its message never sent
    own_broker.start()
    client = redis.Redis(port=own_broker.port)
    backlog = [run_request(cells=[_cell(0, f"{n} + 1")], force=True) for n in range(5)]
    assert client.llen("cpu") == 5
    Run.objects.update(requested_at=timezone.now() - timedelta(minutes=10))
    for _sweep in range(3):
        run_requeue_stale(older_than=timedelta(minutes=2))
    assert client.llen("cpu") == 6  # the five once each, and the lost one once
    assert Run.objects.filter(pk=lost.pk, queued_at__isnull=False).exists()
    assert all(r.queued_at for r in Run.objects.filter(pk__in=[r.pk for r in backlog]))
