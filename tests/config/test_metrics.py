"""/metrics in Prometheus' text format: requests, runs by status, run durations, queue depth
and live workers, read from the real database and the real Redis broker."""

import re
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from runner.models import Run, Worker

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample, or 0 when absent."""
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def scrape(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_requests_are_counted_by_view_and_status(client):
    before = sample(scrape(client), "kb_http_requests_total", view="kb:question_list", status="200")
    client.get("/")
    client.get("/")
    text = scrape(client)
    assert (
        sample(text, "kb_http_requests_total", method="GET", view="kb:question_list", status="200")
        == before + 2
    )
    assert sample(text, "kb_http_request_duration_seconds_count", view="kb:question_list") >= 2


def test_runs_by_status_and_their_durations(client):
    now = timezone.now()
    Run.objects.create(
        key="m1", cells=[], status="verified", started_at=now - timedelta(seconds=3), finished_at=now
    )
    Run.objects.create(
        key="m2", cells=[], status="failed", started_at=now - timedelta(seconds=40), finished_at=now
    )
    Run.objects.create(key="m3", cells=[], status="queued")
    text = scrape(client)
    assert sample(text, "kb_runs_total", status="verified") == 1
    assert sample(text, "kb_runs_total", status="failed") == 1
    assert sample(text, "kb_runs_total", status="queued") == 1
    assert sample(text, "kb_run_duration_seconds_count", queue="cpu") == 2
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="5.0") == 1
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="60.0") == 2
    assert sample(text, "kb_run_duration_seconds_sum", queue="cpu") == pytest.approx(43, abs=0.01)


def test_queue_depth_per_queue_and_live_workers(client, settings):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = "gpu"  # no GPU worker runs in the tests, so nothing consumes these
    broker.delete(queue)
    broker.lpush(queue, "a", "b", "c")
    try:
        Worker.objects.create(
            name="cpu@metrics", queues=["cpu"], started_at=timezone.now(), last_heartbeat=timezone.now()
        )
        Worker.objects.create(
            name="cpu@gone",
            queues=["cpu"],
            started_at=timezone.now(),
            last_heartbeat=timezone.now() - timedelta(hours=1),
        )
        text = scrape(client)
    finally:
        broker.delete(queue)
    assert sample(text, "kb_queue_depth", queue="gpu") == 3
    assert sample(text, "kb_live_workers", queue="cpu") == 1
    assert sample(text, "kb_live_workers", queue="gpu") == 0


def test_a_metrics_token_is_required_once_set(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert 'kb_live_workers{queue="cpu"}' in scrape(client, HTTP_AUTHORIZATION="Bearer scrape-me")
