"""The scaling query (runner.selectors.queue_backlog_sql, the text KEDA runs) against the real
PostgreSQL: queued, waiting and running runs count on their own queue, finished ones never."""

import pytest
from django.utils import timezone

from runner.models import Run, RunStatus
from runner.selectors import queue_backlog, queue_backlog_sql, replicas_for

pytestmark = pytest.mark.django_db

CONCURRENCY = {"cpu": 2, "gpu": 1}  # deploy/kubernetes/base/workers.yaml
MINIMUM = {"cpu": 1, "gpu": 0}  # deploy/kubernetes/base/scaling.yaml


def _runs(queue: str, status: str, n: int) -> None:
    now = timezone.now()
    started = now if status != RunStatus.QUEUED and status != RunStatus.WAITING_GPU else None
    Run.objects.bulk_create(
        Run(key=f"{queue}-{status}-{i}", cells=[], queue=queue, status=status, started_at=started)
        for i in range(n)
    )


def test_the_query_counts_waiting_and_running_runs_per_queue_and_gives_the_rules_replicas():
    assert (queue_backlog("cpu"), queue_backlog("gpu")) == (0, 0)
    assert replicas_for(backlog=0, concurrency=2, minimum=1, maximum=4) == 1  # cpu stays at 1
    assert replicas_for(backlog=0, concurrency=1, minimum=0, maximum=4) == 0  # gpu goes to zero

    _runs("cpu", RunStatus.QUEUED, 3)
    _runs("cpu", RunStatus.RUNNING, 2)
    _runs("cpu", RunStatus.VERIFIED, 7)
    _runs("cpu", RunStatus.FAILED, 1)
    _runs("cpu", RunStatus.FAULT, 1)
    _runs("gpu", RunStatus.WAITING_GPU, 1)  # no GPU worker yet: this is what scales from zero
    _runs("gpu", RunStatus.QUEUED, 1)
    _runs("gpu", RunStatus.RUNNING, 1)
    _runs("gpu", RunStatus.VERIFIED, 4)
    _runs("phoenix", RunStatus.QUEUED, 5)  # another queue counts for neither

    assert queue_backlog("cpu") == 5 and queue_backlog("gpu") == 3
    # What KEDA's HPA makes of it: ceil(backlog / concurrency), within the ScaledObject's range.
    assert replicas_for(backlog=5, concurrency=CONCURRENCY["cpu"], minimum=MINIMUM["cpu"], maximum=4) == 3
    assert replicas_for(backlog=3, concurrency=CONCURRENCY["gpu"], minimum=MINIMUM["gpu"], maximum=2) == 2
    assert replicas_for(backlog=500, concurrency=2, minimum=1, maximum=20) == 20

    # The last runs finish: the pool falls back to its minimum.
    Run.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.WAITING_GPU, RunStatus.RUNNING]).update(
        status=RunStatus.VERIFIED, finished_at=timezone.now()
    )
    assert (queue_backlog("cpu"), queue_backlog("gpu")) == (0, 0)


def test_a_name_that_is_not_a_queue_never_reaches_the_sql():
    for bad in ("cpu'; DROP TABLE runner_run; --", "CPU", "", "a" * 11):
        with pytest.raises(ValueError):
            queue_backlog_sql(bad)
