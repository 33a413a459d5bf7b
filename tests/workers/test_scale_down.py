"""Scale-down loses nothing (issue 20 item 4): a worker told to stop mid-run, as the kubelet
tells a pod KEDA scales away (SIGTERM to the container's first process, the Celery main
process), finishes the run it has and exits; the run ends verified exactly once."""

import os
import signal

import pytest
import redis

from runner.models import Run, RunStatus
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 60, "device": "cpu", "raises": None, "tol": None, "hide": False}
CELLS = [
    {"index": 0, "line": 1, "code": "x = 6 * 7", "expected": None, "options": OPTIONS},
    {"index": 1, "line": 6, "code": "import time\ntime.sleep(8)\nx", "expected": "42", "options": OPTIONS},
    {"index": 2, "line": 12, "code": "x + 1", "expected": "43", "options": OPTIONS},
]


def test_sigterm_during_a_long_cell_finishes_the_run_once_and_then_the_worker_exits(own_broker, start_worker):
    worker = start_worker("drain", queues="drain", CELERY_BROKER_URL=own_broker.url)
    run = Run.objects.create(key="scale-down", cells=CELLS, queue="drain")
    execute_run.apply_async((run.pk,), {"attempt": 0}, queue="drain")
    in_the_long_cell = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, cells_done=1)
    wait_for(in_the_long_cell.exists, timeout=60)

    os.kill(worker.process.pid, signal.SIGTERM)  # the main process only, as the kubelet does
    assert worker.process.wait(timeout=60) == 0  # warm shutdown: it waited for the run

    run = Run.objects.get(pk=run.pk)
    assert (run.status, run.attempts) == (RunStatus.VERIFIED, 1), (run.detail, run.fault)
    assert list(run.results.values_list("index", "status")) == [(0, "ran"), (1, "passed"), (2, "passed")]
    client = redis.Redis(port=own_broker.port)
    # Acknowledged: nothing left for another worker to run a second time.
    assert client.llen("drain") == 0 and client.hlen("unacked") == 0
    assert "Warm shutdown" in worker.log.read_text(errors="replace")
