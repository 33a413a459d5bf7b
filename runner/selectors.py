"""Reads about the runner for /metrics (config/observability/metrics.py)."""

from __future__ import annotations

import math
import re

from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum

from .models import FINISHED, Run, RunStatus
from .services import live_workers

RUN_DURATION_BUCKETS_S = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
QUEUES = ("cpu", "gpu")


def runs_by_status() -> dict[str, int]:
    rows = Run.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def run_durations() -> dict:
    """Cumulative histogram buckets of finished runs' durations (start to finish)."""
    from datetime import timedelta

    finished = Run.objects.filter(status__in=FINISHED, started_at__isnull=False, finished_at__isnull=False)
    finished = finished.annotate(
        took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )
    aggregates = {
        f"le_{i}": Count("id", filter=Q(took__lte=timedelta(seconds=b)))
        for i, b in enumerate(RUN_DURATION_BUCKETS_S)
    }
    row = finished.aggregate(total=Count("id"), seconds=Sum("took"), **aggregates)
    buckets = [(b, row[f"le_{i}"]) for i, b in enumerate(RUN_DURATION_BUCKETS_S)]
    buckets.append(("+Inf", row["total"]))
    total = row["seconds"]
    return {"buckets": buckets, "sum": total.total_seconds() if total else 0.0}


def queue_depth() -> dict[str, int]:
    """Jobs waiting in each queue: the length of kombu's Redis lists (all priority levels)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {}
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        depth = {}
        for queue in QUEUES:
            keys = [queue] + [f"{queue}\x06\x16{step}" for step in range(1, 10)]
            depth[queue] = sum(client.llen(key) for key in keys)
        return depth
    except redis.RedisError:
        return {}
    finally:
        client.close()


def metrics_snapshot() -> dict:
    workers = live_workers()
    return {
        "runs_by_status": runs_by_status(),
        "run_durations": run_durations(),
        "queue_depth": queue_depth(),
        "live_workers": {queue: sum(queue in w.queues for w in workers) for queue in QUEUES},
    }


# --- The scaling rule (issue 20): one SQL, read by KEDA and by /metrics ---------------------
# Airflow's rule, on our own run table: a queue needs ceil((waiting + running) / concurrency)
# workers. Counting `running` as well as `queued` keeps busy workers from being scaled away
# (the broker's list is empty while every slot is busy), and `waiting_gpu` is a queued gpu run
# that saw no GPU worker: it must count, or the gpu pool never scales up from zero.
BACKLOG_STATUSES = (RunStatus.QUEUED, RunStatus.WAITING_GPU, RunStatus.RUNNING)
_QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,9}$")  # Run.queue is at most 10 characters


def queue_backlog_sql(queue: str) -> str:
    """The query KEDA's postgresql trigger runs for `queue` (deploy/kubernetes/base/scaling.yaml
    holds the same text; tests/kubernetes asserts they agree). A literal, not a parameter:
    KEDA runs the text as it is, so the queue name is checked instead of escaped."""
    if not _QUEUE_NAME.match(queue):
        raise ValueError(f"not a queue name: {queue!r}")
    statuses = ", ".join(f"'{status.value}'" for status in BACKLOG_STATUSES)
    table = Run._meta.db_table
    # The queue name matched _QUEUE_NAME above and the rest are our own constants.
    return f"SELECT COUNT(*) FROM {table} WHERE queue = '{queue}' AND status IN ({statuses})"  # noqa: S608


def queue_backlog(queue: str) -> int:
    """Runs waiting for or running on `queue` now: what KEDA divides by worker concurrency."""
    with connection.cursor() as cursor:
        cursor.execute(queue_backlog_sql(queue))
        return cursor.fetchone()[0]


def replicas_for(*, backlog: int, concurrency: int, minimum: int, maximum: int) -> int:
    """The replica count the rule gives (the HPA's AverageValue target: ceil(backlog / target))."""
    return max(minimum, min(maximum, math.ceil(backlog / concurrency)))
