"""Reads about the runner for /metrics (config/observability/metrics.py)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum

from .models import FINISHED, Run
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
