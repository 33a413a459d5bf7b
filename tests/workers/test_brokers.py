"""The runner's reliability over each broker it supports, with real worker processes: Redis (a
server of the test's own) and RabbitMQ (this module's vhost on the shared node, or a private
node where a test stops the broker). A killed worker's run is redelivered and finishes once; a
run that keeps killing its workers ends `crashed`; a worker told to stop finishes its run; a
question saved while the broker is away loses nothing and runs once it is back."""

import os
import signal
import threading
from datetime import timedelta

import pytest

from answers.models import Revision
from answers.services import answer_save
from kb.models import Question
from runner.attempts import MAX_ATTEMPTS
from runner.models import Run, RunStatus
from runner.recovery import run_requeue_stale
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 60, "device": "cpu", "raises": None, "tol": None, "hide": False}
# Redis hands an unacknowledged job back after the visibility timeout (3 s here, for a rescue
# in seconds); RabbitMQ as soon as the consumer's connection closes. Heartbeats every second.
FAST = {"CELERY_VISIBILITY_TIMEOUT": "3", "RUNNER_HEARTBEAT_INTERVAL_S": "1"}


def _cells(sleep_s: float) -> list[dict]:
    codes = [("x = 6 * 7", None), (f"import time\ntime.sleep({sleep_s})\nx", "42"), ("x + 1", "43")]
    return [
        {"index": i, "line": 1 + 5 * i, "code": code, "expected": expected, "options": OPTIONS}
        for i, (code, expected) in enumerate(codes)
    ]


def _send(key: str, queue: str, sleep_s: float, *, attempts: int = 0) -> Run:
    run = Run.objects.create(key=key, cells=_cells(sleep_s), queue=queue, attempts=attempts)
    execute_run.apply_async((run.pk,), {"attempt": attempts}, queue=queue)
    return run


def _in_the_long_cell(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id, status=RunStatus.RUNNING, cells_done=1).exists()


def _finished(run_id: int):
    run = Run.objects.get(pk=run_id)
    return run if run.is_finished else None


def _results(run: Run) -> list[tuple[int, str]]:
    return list(run.results.order_by("index").values_list("index", "status"))


VERIFIED_ONCE = [(0, "ran"), (1, "passed"), (2, "passed")]


def test_a_killed_workers_run_is_redelivered_and_one_that_keeps_killing_workers_ends_crashed(
    each_broker, start_worker
):
    victim = start_worker("victim", queues="chaos", **FAST)
    run = _send("killed", "chaos", sleep_s=3)
    wait_for(lambda: _in_the_long_cell(run.pk), timeout=60)
    victim.kill()
    if each_broker.kind == "rabbitmq":
        # The connection closed with the job unacknowledged: it is ready again at once.
        wait_for(lambda: each_broker.messages("chaos") == (1, 0), timeout=30, interval=0.5)
    rescuer = start_worker("rescuer", queues="chaos", **FAST)
    run = wait_for(lambda: _finished(run.pk), timeout=90)
    assert (run.status, run.worker, run.attempts) == (RunStatus.VERIFIED, "rescuer@test", 2), run.detail
    assert _results(run) == VERIFIED_ONCE

    # A run that has already stopped its worker MAX_ATTEMPTS - 1 times stops this one too: the
    # redelivered job does not run it again but ends it `crashed` (runner.services.run_start).
    doomed = _send("doomed", "chaos", sleep_s=30, attempts=MAX_ATTEMPTS - 1)
    wait_for(lambda: _in_the_long_cell(doomed.pk), timeout=60)
    rescuer.kill()
    start_worker("last", queues="chaos", **FAST)
    doomed = wait_for(lambda: _finished(doomed.pk), timeout=90)
    assert doomed.status == RunStatus.FAILED and f"{MAX_ATTEMPTS} times" in doomed.detail
    assert _results(doomed) == [(0, "ran"), (1, "crashed"), (2, "skipped")]
    # Nothing of either run is left in the broker to run again.
    wait_for(lambda: each_broker.messages("chaos") == (0, 0), timeout=60, interval=0.5)
    run.refresh_from_db()
    assert run.attempts == 2 and _results(run) == VERIFIED_ONCE


def test_sigterm_during_a_long_cell_finishes_the_run_once_and_then_the_worker_exits(
    each_broker, start_worker
):
    """Scale-down: the kubelet sends SIGTERM to the container's first process (the Celery main
    process) of a pod KEDA scales away; the worker finishes the run it has and exits."""
    worker = start_worker("drain", queues="drain")
    run = _send("scale-down", "drain", sleep_s=8)
    wait_for(lambda: _in_the_long_cell(run.pk), timeout=60)

    os.kill(worker.process.pid, signal.SIGTERM)  # the main process only, as the kubelet does
    assert worker.process.wait(timeout=60) == 0  # warm shutdown: it waited for the run

    run = Run.objects.get(pk=run.pk)
    assert (run.status, run.attempts) == (RunStatus.VERIFIED, 1), (run.detail, run.fault)
    assert _results(run) == VERIFIED_ONCE
    # Acknowledged: nothing to run a second time. RabbitMQ's queue counters trail the ack by a
    # moment (a message left unacknowledged would come back as ready once the worker is gone).
    wait_for(lambda: each_broker.messages("drain") == (0, 0), timeout=15, interval=0.5)
    assert "Warm shutdown" in worker.log.read_text(errors="replace")


BODY = "```python run\n6 * 7\n```\n\n```output\n42\n```\n"


def test_saving_while_the_broker_is_down_loses_nothing_and_runs_when_it_returns(
    restartable_broker, start_worker
):
    restartable_broker.stop()
    question = Question.objects.create(title="Broker down", slug="broker-down")
    answer = answer_save(question=question, body=BODY)  # does not raise, does not hang
    assert Revision.objects.filter(answer=answer).count() == 1
    run = Run.objects.get(pk=answer.run_id)
    assert run.status == RunStatus.QUEUED and run.queued_at is None  # its message never left

    restartable_broker.start()
    start_worker("after-outage")
    assert run_requeue_stale(older_than=timedelta(0)) == 1
    run = wait_for(lambda: _finished(answer.run_id), timeout=90)
    assert (run.status, run.worker, run.attempts) == (RunStatus.VERIFIED, "after-outage@test", 1)


def _save_in_a_thread(question: Question) -> dict:
    """answer_save in a thread of its own, so that a save that hangs fails the test instead of
    hanging it."""
    from django.db import connection

    saved = {}

    def save():
        try:
            saved["answer"] = answer_save(question=question, body=BODY)
        finally:
            connection.close()

    thread = threading.Thread(target=save)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "saving hung on a blocked broker"
    return saved


@pytest.mark.parametrize("restartable_broker", ["rabbitmq"], indirect=True)
def test_a_rabbitmq_alarm_blocking_publishers_does_not_hang_a_save_and_the_run_goes_once(
    restartable_broker, start_worker
):
    """Under a memory or disk alarm RabbitMQ accepts the message's bytes and stops reading: the
    publish waits for a confirm that does not come. It gives up after PUBLISH_TIMEOUT_S, the run
    stays queued for the sweep, and the message that was in fact delivered once the alarm
    cleared and the sweep's copy run the run once between them."""
    node = restartable_broker.place
    question = Question.objects.create(title="Broker blocked", slug="broker-blocked")
    node.block_publishers()
    try:
        answer = _save_in_a_thread(question)["answer"]
    finally:
        node.unblock_publishers()
    assert Revision.objects.filter(answer=answer).count() == 1
    run = Run.objects.get(pk=answer.run_id)
    assert run.status == RunStatus.QUEUED and run.queued_at is None  # not confirmed: the sweep sends it

    assert run_requeue_stale(older_than=timedelta(0)) == 1
    worker = start_worker("after-alarm")
    run = wait_for(lambda: _finished(answer.run_id), timeout=90)
    assert (run.status, run.attempts) == (RunStatus.VERIFIED, 1)
    assert [r.status for r in run.results.all()] == ["passed"]
    # Both copies were delivered: the second found the run finished and did nothing.
    wait_for(lambda: worker.log.read_text(errors="replace").count("execute_run[") >= 2, timeout=60)
    wait_for(lambda: "run not started" in worker.log.read_text(errors="replace"), timeout=60)
    wait_for(lambda: node.messages("cpu") == (0, 0), timeout=60, interval=0.5)
    run.refresh_from_db()
    assert run.attempts == 1 and run.results.count() == 1


@pytest.mark.parametrize("each_broker", ["rabbitmq"], indirect=True)
def test_a_dropped_connection_hands_the_job_back_at_once_and_the_run_is_still_run_once(
    each_broker, start_worker
):
    """RabbitMQ requeues a consumer's unacknowledged job the moment its connection closes, even
    while the worker is still running it (a network blip): the worker reconnects, gets the same
    job back, redelivered, and that copy finds the run finished and does nothing."""
    worker = start_worker("blip", queues="blip", **FAST)
    run = _send("dropped", "blip", sleep_s=8)
    wait_for(lambda: _in_the_long_cell(run.pk), timeout=60)
    each_broker.place.close_connections()
    run = wait_for(lambda: _finished(run.pk), timeout=90)
    assert (run.status, run.attempts) == (RunStatus.VERIFIED, 1), (run.detail, run.fault)
    assert _results(run) == VERIFIED_ONCE
    log = worker.log
    wait_for(lambda: "run not started" in log.read_text(errors="replace"), timeout=60)
    wait_for(lambda: each_broker.messages("blip") == (0, 0), timeout=60, interval=0.5)
    run.refresh_from_db()
    assert run.attempts == 1 and _results(run) == VERIFIED_ONCE
    assert worker.process.poll() is None
