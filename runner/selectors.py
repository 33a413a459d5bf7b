"""Reads about the runner for /metrics (config/observability/metrics.py)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum

from config.brokers import broker_kind

from .models import FINISHED, Run, RunStatus
from .tasks import RUN_TIME_LIMIT_S
from .workers import live_workers

# From a tenth of a second to past the task's hard limit (a run that hit its cap lands above 600)
# and the sweep's deadline, after which a run is sent again.
RUN_DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, RUN_TIME_LIMIT_S, 900)
QUEUE_WAIT_BUCKETS_S = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
QUEUES = ("cpu", "gpu")


def runs_by_status() -> dict[str, int]:
    rows = Run.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def run_durations() -> dict[str, dict]:
    """Per queue, how long finished runs took (start to finish)."""
    finished = Run.objects.filter(status__in=FINISHED)
    return _elapsed_histograms(
        finished, since="started_at", until="finished_at", buckets=RUN_DURATION_BUCKETS_S
    )


def queue_waits() -> dict[str, dict]:
    """Per queue, how long started runs waited (requested to started)."""
    return _elapsed_histograms(
        Run.objects.all(), since="requested_at", until="started_at", buckets=QUEUE_WAIT_BUCKETS_S
    )


def _elapsed_histograms(runs, *, since: str, until: str, buckets: tuple) -> dict[str, dict]:
    """{queue: {"buckets": [(le, cumulative count), ..., ("+Inf", n)], "sum": seconds}} of
    `until - since` over the runs that have both, in one grouped query. Every queue of QUEUES is
    there even with no run, so its series never vanishes from /metrics."""
    elapsed = ExpressionWrapper(F(until) - F(since), output_field=DurationField())
    runs = runs.filter(**{f"{since}__isnull": False, f"{until}__isnull": False}).annotate(elapsed=elapsed)
    below = {
        f"le_{i}": Count("id", filter=Q(elapsed__lte=timedelta(seconds=b))) for i, b in enumerate(buckets)
    }
    rows = runs.values("queue").annotate(total=Count("id"), seconds=Sum("elapsed"), **below).order_by()
    histograms = {
        queue: {"buckets": [*((b, 0) for b in buckets), ("+Inf", 0)], "sum": 0.0} for queue in QUEUES
    }
    for row in rows:
        counts = [(b, row[f"le_{i}"]) for i, b in enumerate(buckets)]
        # A clock step between web and worker can make one difference negative: never the sum.
        seconds = max(row["seconds"] or timedelta(0), timedelta(0)).total_seconds()
        histograms[row["queue"]] = {"buckets": [*counts, ("+Inf", row["total"])], "sum": seconds}
    return histograms


def queue_depth() -> dict[str, int]:
    """Jobs waiting (ready, not yet handed to a worker) in each queue; {} when the broker does
    not answer or keeps no countable queue (the filesystem transport)."""
    url = settings.CELERY_BROKER_URL
    kind = broker_kind(url)
    if kind == "redis":
        return _redis_queue_depth(url)
    if kind == "rabbitmq":
        return _rabbitmq_queue_depth(url)
    return {}


def _redis_queue_depth(url: str) -> dict[str, int]:
    """The length of kombu's Redis lists (all priority levels)."""
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


def _rabbitmq_queue_depth(url: str) -> dict[str, int]:
    """A passive queue.declare answers with the queue's ready messages (those a worker holds
    unacknowledged are not counted, as Redis's list does not hold them either). A queue no one
    declared yet has no messages: RabbitMQ answers NOT_FOUND and closes that channel."""
    from amqp.exceptions import AMQPError, NotFound
    from kombu import Connection
    from kombu.exceptions import KombuError

    depth = {}
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.connect()
            for queue in QUEUES:
                channel = conn.channel()
                try:
                    depth[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except NotFound:
                    depth[queue] = 0
                if channel.is_open:
                    channel.close()
    except (OSError, KombuError, AMQPError):
        return {}
    return depth


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


# --- The scaling rule: one SQL, read by KEDA and by /metrics ---------------------
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


# --- The pool, observed: /metrics and the admin's Pool page (runner/pool_admin.py) ----------
POOL_WINDOW = timedelta(hours=1)
POOL_STEP = timedelta(minutes=5)
WAITING_STATUSES = (RunStatus.QUEUED, RunStatus.WAITING_GPU)


def runs_in_flight() -> dict[str, dict[str, int]]:
    """{"waiting": {queue: n}, "running": {queue: n}} from the run table (waiting counts
    `waiting_gpu` too), for every queue that has any; the broker is not asked."""
    counts = {"waiting": dict.fromkeys(QUEUES, 0), "running": dict.fromkeys(QUEUES, 0)}
    rows = Run.objects.filter(status__in=BACKLOG_STATUSES).values("queue", "status").annotate(n=Count("id"))
    for row in rows.order_by():
        kind = "running" if row["status"] == RunStatus.RUNNING else "waiting"
        counts[kind][row["queue"]] = counts[kind].get(row["queue"], 0) + row["n"]
    return counts


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _percentiles(waits: list[float]) -> dict:
    waits = sorted(waits)
    if not waits:
        return {"runs": 0, "p50": None, "p95": None}
    return {"runs": len(waits), "p50": _percentile(waits, 0.5), "p95": _percentile(waits, 0.95)}


def wait_percentiles(*, since: datetime, until: datetime, step: timedelta, queues=QUEUES) -> dict[str, dict]:
    """Per queue, p50 and p95 of the wait (requested to started) of the runs that started from
    `since` to `until`, over the whole window and in each `step` of it:
    {queue: {"runs", "p50", "p95", "slots": [{"start", "runs", "p50", "p95"}]}} (None where no
    run started), for each of `queues` and any queue a run started on. One query on started_at
    (indexed), the percentiles in Python."""
    rows = Run.objects.filter(started_at__gte=since, started_at__lt=until).values_list(
        "queue", "requested_at", "started_at"
    )
    slots = max(1, math.ceil((until - since) / step))
    per_queue: dict[str, list[list[float]]] = {}
    for queue, requested, started in rows.order_by():
        slot = min(slots - 1, int((started - since) / step))
        waits = per_queue.setdefault(queue, [[] for _ in range(slots)])
        waits[slot].append(max(0.0, (started - requested).total_seconds()))
    for queue in queues:
        per_queue.setdefault(queue, [[] for _ in range(slots)])
    return {
        queue: {
            **_percentiles([wait for slot in waits for wait in slot]),
            "slots": [{"start": since + i * step, **_percentiles(slot)} for i, slot in enumerate(waits)],
        }
        for queue, waits in per_queue.items()
    }


def oldest_waiting() -> dict[str, datetime]:
    """Per queue, when the longest-waiting run still waiting for a worker was requested: a
    queue with no worker shows here, while its wait percentiles (of started runs) stay empty."""
    rows = (
        Run.objects.filter(status__in=WAITING_STATUSES).values("queue").annotate(oldest=Min("requested_at"))
    )
    return {row["queue"]: row["oldest"] for row in rows.order_by()}


def pool_window(now: datetime) -> tuple[datetime, datetime]:
    """The last hour in whole steps, the step in progress last: (since, until)."""
    step_s = POOL_STEP.total_seconds()
    until = datetime.fromtimestamp((now.timestamp() // step_s + 1) * step_s, tz=UTC)
    return until - POOL_WINDOW, until


def pool_overview(*, now: datetime) -> dict:
    """The Pool page: per queue, the live workers (by heartbeat), runs waiting and running, the
    oldest waiting, and the wait percentiles of the last hour."""
    since, until = pool_window(now)
    live = live_workers()
    in_flight = runs_in_flight()
    oldest = oldest_waiting()
    queues = set(QUEUES) | set(in_flight["waiting"]) | set(in_flight["running"]) | set(oldest)
    queues |= {queue for worker in live for queue in worker.queues}
    waits = wait_percentiles(since=since, until=until, step=POOL_STEP, queues=queues)
    return {
        "now": now,
        "since": since,
        "until": until,
        "step": POOL_STEP,
        "queues": [
            {
                "name": queue,
                "workers": sorted(w.name for w in live if queue in w.queues),
                "waiting": in_flight["waiting"].get(queue, 0),
                "running": in_flight["running"].get(queue, 0),
                "oldest_wait_s": max(0.0, (now - oldest[queue]).total_seconds()) if queue in oldest else None,
                "waits": waits[queue],
            }
            for queue in sorted(waits)
        ],
    }
