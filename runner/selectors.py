"""Reads about the runner for /metrics (config/observability/metrics.py)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

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
        "runs_in_flight": runs_in_flight(),
        "queue_waits": queue_waits(),
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


# --- The pool, observed (issue 20 item 6): /metrics and the admin's Pool page -----------------
QUEUE_WAIT_BUCKETS_S = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


def runs_in_flight() -> dict[str, dict[str, int]]:
    """{"waiting": {queue: n}, "running": {queue: n}} from the run table (waiting counts
    `waiting_gpu` too), for every queue that has any; the broker is not asked."""
    counts = {"waiting": dict.fromkeys(QUEUES, 0), "running": dict.fromkeys(QUEUES, 0)}
    rows = Run.objects.filter(status__in=BACKLOG_STATUSES).values("queue", "status").annotate(n=Count("id"))
    for row in rows.order_by():
        kind = "running" if row["status"] == RunStatus.RUNNING else "waiting"
        counts[kind][row["queue"]] = counts[kind].get(row["queue"], 0) + row["n"]
    return counts


def queue_waits() -> dict[str, dict]:
    """Per queue, cumulative histogram buckets of how long started runs waited (requested to
    started), in the shape of run_durations()."""
    started = Run.objects.filter(started_at__isnull=False).annotate(
        waited=ExpressionWrapper(F("started_at") - F("requested_at"), output_field=DurationField())
    )
    aggregates = {
        f"le_{i}": Count("id", filter=Q(waited__lte=timedelta(seconds=b)))
        for i, b in enumerate(QUEUE_WAIT_BUCKETS_S)
    }
    rows = started.values("queue").annotate(total=Count("id"), seconds=Sum("waited"), **aggregates)
    waits = {}
    for row in rows.order_by():
        buckets = [(b, row[f"le_{i}"]) for i, b in enumerate(QUEUE_WAIT_BUCKETS_S)] + [("+Inf", row["total"])]
        total = row["seconds"] or timedelta(0)
        waits[row["queue"]] = {"buckets": buckets, "sum": max(total, timedelta(0)).total_seconds()}
    return waits


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def wait_percentiles(*, since, until, step: timedelta) -> list[dict]:
    """p50 and p95 of the wait of the runs that started in each `step` from `since` to `until`:
    [{"start", "runs", "p50", "p95"}] (None where no run started)."""
    started = Run.objects.filter(started_at__gte=since, started_at__lt=until)
    rows = started.values_list("requested_at", "started_at")
    slots = max(1, math.ceil((until - since) / step))
    waits: list[list[float]] = [[] for _ in range(slots)]
    for requested, started in rows:
        slot = min(slots - 1, int((started - since) / step))
        waits[slot].append(max(0.0, (started - requested).total_seconds()))
    points = []
    for i, slot in enumerate(waits):
        slot.sort()
        p50, p95 = (_percentile(slot, 0.5), _percentile(slot, 0.95)) if slot else (None, None)
        points.append({"start": since + i * step, "runs": len(slot), "p50": p50, "p95": p95})
    return points


def pool_overview() -> dict:
    """The Pool page: workers per queue (live, by heartbeat), runs waiting and running."""
    live = live_workers()
    in_flight = runs_in_flight()
    queues = sorted(set(QUEUES) | set(in_flight["waiting"]) | {q for w in live for q in w.queues})
    return {
        "queues": [
            {
                "name": queue,
                "workers": sorted(w.name for w in live if queue in w.queues),
                "waiting": in_flight["waiting"].get(queue, 0),
                "running": in_flight["running"].get(queue, 0),
            }
            for queue in queues
        ],
    }
