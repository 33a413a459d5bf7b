"""Sending a run's message to the broker without ever hanging the request that saved it.

A broker that is down refuses the connection at once; one under a memory or disk alarm
(RabbitMQ) accepts the connection and then stops reading from it, so a publish would wait for
its confirm for ever. Every publish is bounded by config.brokers.PUBLISH_TIMEOUT_S; a failure
raises, and the caller leaves the run queued for the stale-run sweep (runner.recovery).
"""

from __future__ import annotations

import time

from django.conf import settings

from config.brokers import PUBLISH_TIMEOUT_S, broker_kind


def send_run(*, run_id: int, queue: str, attempt: int) -> None:
    from .tasks import execute_run

    message = ((run_id,), {"attempt": attempt})
    if broker_kind(settings.CELERY_BROKER_URL) != "rabbitmq":
        # Redis: kombu's retry policy (CELERY_TASK_PUBLISH_RETRY_POLICY) gives up in ~1 s.
        execute_run.apply_async(*message, queue=queue)
        return
    _send_confirmed(execute_run, message, queue)


def send_try_run(*, token: str) -> None:
    """A reader's try-it run, on the `try` queue; raises when the broker is away (bounded)."""
    from .tasks import try_run

    if broker_kind(settings.CELERY_BROKER_URL) != "rabbitmq":
        try_run.apply_async((token,), queue=settings.TRYIT_QUEUE)
        return
    _send_confirmed(try_run, ((token,), {}), settings.TRYIT_QUEUE)


def _send_confirmed(task, message, queue: str) -> None:
    """RabbitMQ: wait at most PUBLISH_TIMEOUT_S for the broker's confirm. kombu's own retry is
    off: it would close the timed-out connection with a handshake the blocked broker never
    answers (measured here: over 40 s for three tries). A pooled connection that broke since its
    last use (the broker restarted) fails fast and is tried once more on a new connection; a
    timeout is not, so a save waits one timeout at most."""
    from config.celery import app

    for last_try in (False, True):
        started = time.monotonic()
        with app.producer_or_acquire() as producer:
            try:
                task.apply_async(
                    *message,
                    queue=queue,
                    producer=producer,
                    retry=False,
                    timeout=PUBLISH_TIMEOUT_S,
                    confirm_timeout=PUBLISH_TIMEOUT_S,
                )
                return
            except Exception:
                # The connection may hold a half-sent message or an unanswered confirm: drop it
                # without the closing handshake; the pool connects afresh next time.
                producer.connection.collect()
                if last_try or time.monotonic() - started >= PUBLISH_TIMEOUT_S:
                    raise
