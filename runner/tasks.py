"""Celery tasks: thin shells that load ids and call services.

Deadlines: a run's cells are held to their own limits inside the sandbox (at most 600 s for
an answer); the task's hard time limit is a backstop above that.
"""

import logging

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.db import close_old_connections

from config.observability import context as log_context

from . import faults, isolation_policy, pool, recovery, services

logger = logging.getLogger(__name__)

RUN_TIME_LIMIT_S = 600 + 60


@shared_task(
    name="runner.execute_run",
    acks_late=True,  # acknowledged after the run: a worker that dies mid-run gets it redelivered
    reject_on_worker_lost=True,  # ... including when the pool process is killed
    time_limit=RUN_TIME_LIMIT_S,
    ignore_result=True,
)
def execute_run(run_id: int, attempt: int | None = None) -> None:
    """`attempt`: how many attempts the run had when this message was sent (None from a sender
    of an earlier release), so a message that an attempt since has superseded does nothing."""
    # The worker keeps its database connection between jobs (CELERY_DB_REUSE_MAX in
    # config/celery.py); drop it here if it is broken or older than CONN_MAX_AGE.
    close_old_connections()
    token = log_context.run_id.set(str(run_id))  # every log line of this run carries its id
    try:
        _execute_run(run_id, attempt)
    finally:
        log_context.run_id.reset(token)


def _execute_run(run_id: int, attempt: int | None) -> None:
    request = execute_run.request
    try:
        run = faults.retrying_db(
            lambda _retry: services.run_start(
                run_id=run_id,
                worker=request.hostname or "unknown",
                instance=pool.WORKER_INSTANCE,
                redelivered=bool((request.delivery_info or {}).get("redelivered")),
                sent_at_attempt=attempt,
            )
        )
    except faults.DATABASE_ERRORS as exc:
        # The database stayed away: hand the message back to the broker rather than ack a job
        # whose run nobody claimed (it would stay queued, its message gone).
        raise Reject(f"database unavailable: {exc}", requeue=True) from exc
    if run is None:
        logger.info("run not started: finished already, or another live worker has it")
        return
    logger.info("run started (attempt %s)", run.attempts)
    second = pool.second_fork_server() if run.twice else None
    run = services.run_execute(run=run, server=pool.fork_server(), second_server=second)
    logger.info("run finished: %s", run.status)


# A reader's try-it run (runner.tryit): its own queue and worker, so readers never delay
# verification. Acknowledged on receipt: a run whose worker dies is not run again, the reader
# sees "lost" at its deadline. The profile's wall-time limit is at most a few minutes.
TRY_TIME_LIMIT_S = 300


@shared_task(name="runner.try_run", acks_late=False, time_limit=TRY_TIME_LIMIT_S, ignore_result=True)
def try_run(token: str) -> None:
    from . import tryit_worker

    tryit_worker.execute(token=token, server=pool.fork_server())


@shared_task(name="runner.requeue_stale_runs", ignore_result=True, time_limit=60)
def requeue_stale_runs() -> int:
    return recovery.run_requeue_stale()


_heartbeat_stop = None


@worker_init.connect
def _refuse_unisolated_start(**kwargs):
    # Before the pool starts: a worker that cannot isolate cells stops here in production.
    isolation_policy.worker_isolation_check()


@worker_ready.connect
def _start_heartbeat(sender, **kwargs):
    global _heartbeat_stop
    queues = sorted(q.name for q in sender.task_consumer.queues)
    name = sender.hostname

    def take_back_orphans() -> None:
        # Restarted under the same name (`cpu@%h` in compose): what the previous start was
        # running would otherwise wait for the visibility timeout.
        requeued = recovery.run_requeue_orphans_of(worker=name, instance=pool.WORKER_INSTANCE)
        if requeued:
            logger.warning("Queued again %s run(s) left running by a previous start of %s", requeued, name)

    _heartbeat_stop = pool.heartbeat_start(name=name, queues=queues, on_first_beat=take_back_orphans)


@worker_shutdown.connect
def _stop_heartbeat(**kwargs):
    if _heartbeat_stop is not None:
        _heartbeat_stop.set()


@worker_process_init.connect
def _warm_fork_server(**kwargs):
    # Start the fork servers (libraries imported once) before the first job arrives, in the
    # background: this signal runs before the pool process reports up.
    pool.warm_start(second=_takes_verification_runs())


def _takes_verification_runs() -> bool:
    """Whether this pool process's worker consumes any queue but try-it's: only verification
    runs use the second fork server. The queues chosen with -Q were selected in the worker's
    main process before the pool forked, so the pool process sees the same selection."""
    from celery import current_app

    queues = set(current_app.amqp.queues.consume_from or current_app.amqp.queues)
    return queues != {settings.TRYIT_QUEUE}


@worker_process_shutdown.connect
def _stop_fork_server(**kwargs):
    pool.fork_server_stop()
