"""/metrics shows what the autoscaler sees (issue 20 item 6): runs waiting and in flight per
queue, and a histogram per queue of how long runs waited to start, from the real database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runner.models import Run, RunStatus

from .test_metrics import sample, scrape

pytestmark = pytest.mark.django_db


def _run(queue: str, status: str, waited_s: float | None = None) -> None:
    run = Run.objects.create(key=f"{queue}-{status}-{waited_s}", cells=[], queue=queue, status=status)
    if waited_s is not None:  # requested_at is set on insert: move it back by the wait
        now = timezone.now()
        Run.objects.filter(pk=run.pk).update(requested_at=now - timedelta(seconds=waited_s), started_at=now)


def test_runs_waiting_and_in_flight_per_queue_and_how_long_they_waited(client):
    _run("cpu", RunStatus.QUEUED)
    _run("cpu", RunStatus.QUEUED)
    _run("cpu", RunStatus.RUNNING, waited_s=3)
    _run("cpu", RunStatus.VERIFIED, waited_s=40)
    _run("gpu", RunStatus.WAITING_GPU)
    text = scrape(client)
    assert sample(text, "kb_runs_waiting", queue="cpu") == 2
    assert sample(text, "kb_runs_waiting", queue="gpu") == 1
    assert sample(text, "kb_runs_in_flight", queue="cpu") == 1
    assert sample(text, "kb_runs_in_flight", queue="gpu") == 0
    assert sample(text, "kb_run_queue_wait_seconds_count", queue="cpu") == 2
    assert sample(text, "kb_run_queue_wait_seconds_bucket", queue="cpu", le="5.0") == 1
    assert sample(text, "kb_run_queue_wait_seconds_bucket", queue="cpu", le="60.0") == 2
    assert 42 < sample(text, "kb_run_queue_wait_seconds_sum", queue="cpu") < 45
    assert "# TYPE kb_run_queue_wait_seconds histogram" in text
