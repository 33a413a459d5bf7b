"""/metrics shows what the autoscaler sees: runs waiting and in flight per
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


def _finished(queue: str, took_s: float, status: str = RunStatus.VERIFIED) -> None:
    now = timezone.now()
    Run.objects.create(
        key=f"{queue}-took-{took_s}",
        cells=[],
        queue=queue,
        status=status,
        started_at=now - timedelta(seconds=took_s),
        finished_at=now,
    )


def test_run_durations_per_queue_with_buckets_past_the_run_cap(client):
    _finished("cpu", 0.05)
    _finished("cpu", 3, status=RunStatus.FAILED)
    _finished("cpu", 650)  # ran close to the task's hard limit (660 s)
    _finished("gpu", 700)
    _run("cpu", RunStatus.RUNNING, waited_s=1)  # started, not finished: no duration yet
    text = scrape(client)
    assert "# TYPE kb_run_duration_seconds histogram" in text
    assert sample(text, "kb_run_duration_seconds_count", queue="cpu") == 3
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="0.1") == 1
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="5.0") == 2
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="600.0") == 2
    assert sample(text, "kb_run_duration_seconds_bucket", queue="cpu", le="660.0") == 3
    assert sample(text, "kb_run_duration_seconds_bucket", queue="gpu", le="660.0") == 0
    assert sample(text, "kb_run_duration_seconds_bucket", queue="gpu", le="900.0") == 1
    assert sample(text, "kb_run_duration_seconds_bucket", queue="gpu", le="+Inf") == 1
    assert sample(text, "kb_run_duration_seconds_sum", queue="cpu") == pytest.approx(653.05, abs=0.01)


def test_every_queue_has_its_histograms_before_any_run(client):
    text = scrape(client)
    for name in ("kb_run_duration_seconds_count", "kb_run_queue_wait_seconds_count"):
        for queue in ("cpu", "gpu"):
            assert f'{name}{{queue="{queue}"}} 0.0' in text
