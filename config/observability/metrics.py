"""Prometheus metrics: requests (counted in each web process), runs, queues and workers
(read from the database and the broker when /metrics is scraped).

Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes prometheus-client sum every worker process's
request counters (deploy/gunicorn.conf.py clears the directory at start).
"""

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

REQUESTS = Counter("kb_http_requests_total", "HTTP requests served", ["method", "view", "status"])
LATENCY = Histogram(
    "kb_http_request_duration_seconds",
    "Time to serve an HTTP request",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_request(*, method: str, view: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, view, str(status)).inc()
    LATENCY.labels(method, view).observe(seconds)


class StackCollector:
    """Runs by status, run durations, queue depth per queue and live workers, read at scrape time."""

    def collect(self):
        from runner.selectors import metrics_snapshot  # the ORM, only when scraped

        snapshot = metrics_snapshot()
        runs = CounterMetricFamily("kb_runs", "Runs by status (all time)", labels=["status"])
        for status, count in sorted(snapshot["runs_by_status"].items()):
            runs.add_metric([status], count)
        yield runs
        yield _per_queue_histogram(
            "kb_run_duration_seconds",
            "Duration of finished runs (start to finish)",
            snapshot["run_durations"],
        )
        depth = GaugeMetricFamily("kb_queue_depth", "Jobs waiting in a broker queue", labels=["queue"])
        for queue, count in sorted(snapshot["queue_depth"].items()):
            depth.add_metric([queue], count)
        yield depth
        workers = GaugeMetricFamily("kb_live_workers", "Workers with a fresh heartbeat", labels=["queue"])
        for queue, count in sorted(snapshot["live_workers"].items()):
            workers.add_metric([queue], count)
        yield workers
        yield from _pool_metrics(snapshot)


def _pool_metrics(snapshot: dict):
    """What the autoscaler sees (the run table, per queue) and how long runs wait."""
    in_flight = snapshot["runs_in_flight"]
    waiting = GaugeMetricFamily(
        "kb_runs_waiting", "Runs queued or waiting for a worker, from the run table", labels=["queue"]
    )
    running = GaugeMetricFamily("kb_runs_in_flight", "Runs running now", labels=["queue"])
    for queue in sorted(in_flight["waiting"]):
        waiting.add_metric([queue], in_flight["waiting"][queue])
    for queue in sorted(in_flight["running"]):
        running.add_metric([queue], in_flight["running"][queue])
    yield waiting
    yield running
    yield _per_queue_histogram(
        "kb_run_queue_wait_seconds", "Time from a run's request to its start", snapshot["queue_waits"]
    )


def _per_queue_histogram(name: str, documentation: str, per_queue: dict) -> HistogramMetricFamily:
    """A histogram family with one series per queue, from runner.selectors' bucket counts."""
    family = HistogramMetricFamily(name, documentation, labels=["queue"])
    for queue, histogram in sorted(per_queue.items()):
        family.add_metric(
            [queue],
            buckets=[(b if b == "+Inf" else str(float(b)), c) for b, c in histogram["buckets"]],
            sum_value=histogram["sum"],
        )
    return family


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(StackCollector())
    return registry


def _authorised(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        return HttpResponse("metrics token required\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
