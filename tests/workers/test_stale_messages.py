"""The original broker message of a run queued again after its worker was lost comes back from
Redis after the visibility timeout, and does nothing: a real worker, killed,
restarted under the same name, on a Redis of the test's own with a short visibility timeout."""

import time

import pytest

from runner.models import Run, RunStatus
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 30, "device": "cpu", "raises": None, "tol": None, "hide": False}
# Redis hands an unacknowledged message out again after this long: past the restart and the
# second attempt (~10 s here), as production's 3600 s are past the longest run.
VISIBILITY_S = 20


def test_the_lost_workers_message_returning_after_the_visibility_timeout_does_nothing(
    own_broker, start_worker
):
    import redis

    env = {"RUNNER_HEARTBEAT_INTERVAL_S": "1", "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_S)}
    cells = [
        {
            "index": 0,
            "line": 1,
            "code": "import time\ntime.sleep(2)\n'slept'",
            "expected": None,
            "options": OPTIONS,
        },
        {"index": 1, "line": 6, "code": "1 + 1", "expected": "2", "options": OPTIONS},
    ]
    first = start_worker("stale", queues="stale", **env)
    run = Run.objects.create(key="stale-message", cells=cells, queue="stale")
    original = execute_run.apply_async((run.pk,), {"attempt": 0}, queue="stale")
    wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.RUNNING, timeout=60)
    first.kill()  # the original message stays unacknowledged in Redis

    second = start_worker("stale", queues="stale", **env)  # takes back its predecessor's run
    run = wait_for(lambda: (r := Run.objects.get(pk=run.pk)).is_finished and r, timeout=60)
    assert (run.status, run.attempts) == (RunStatus.VERIFIED, 2), run.detail

    # The original message comes back (redelivered) and is dropped without touching the run.
    returned = f"execute_run[{original.id}] received"

    def after_return() -> str:
        log = second.log.read_text(errors="replace")
        return log.split(returned, 1)[1] if returned in log else ""

    wait_for(lambda: "run not started" in after_return(), timeout=60)
    assert "run started (attempt" not in after_return()
    assert "run finished: verified" in second.log.read_text(errors="replace").split(returned, 1)[0]
    time.sleep(1)
    after = Run.objects.get(pk=run.pk)
    assert (after.status, after.attempts, after.finished_at) == (RunStatus.VERIFIED, 2, run.finished_at)
    assert list(after.results.values_list("index", "status")) == [(0, "ran"), (1, "passed")]
    client = redis.Redis(port=own_broker.port)
    wait_for(lambda: client.llen("stale") == 0 and client.hlen("unacked") == 0, timeout=30)
