"""What each Celery broker needs to keep the runner's guarantees: a job acknowledged only after
it ran, redelivered when its worker dies, one job reserved per worker process, and publishing
that gives up in seconds when the broker cannot take the message.

Redis is the default; RabbitMQ (``amqp://``) is the option large Celery installations run and
KEDA scales on natively; the filesystem transport serves one machine in development. Every key
this module returns is set for every broker, so a process that switches broker (the tests do)
never keeps an option of the previous one.
"""

from __future__ import annotations

from pathlib import Path

# How long enqueueing waits for the broker to take a message (RabbitMQ: the publisher confirm)
# before the run is left queued for the stale-run sweep: a broker under a memory or disk alarm
# stops reading from publishers, and a save must not hang on it.
PUBLISH_TIMEOUT_S = 2.0
# RabbitMQ 3.10's default consumer_timeout: a delivery unacknowledged this long closes the
# channel and goes back to the queue. The runner's hard time limit must stay below it
# (tests/config/test_brokers.py); RabbitMQ >= 3.12 could set it per queue instead.
RABBITMQ_CONSUMER_TIMEOUT_S = 1800
# AMQP heartbeats: a dead connection is noticed within about two of these.
RABBITMQ_HEARTBEAT_S = 30

_KINDS = {
    "redis": "redis",
    "rediss": "redis",
    "amqp": "rabbitmq",
    "amqps": "rabbitmq",
    "pyamqp": "rabbitmq",
    "filesystem": "filesystem",
    "memory": "memory",
}


def broker_kind(url: str) -> str:
    """``redis``, ``rabbitmq``, ``filesystem`` or ``memory``; ValueError for any other scheme."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in _KINDS:
        raise ValueError(
            f"CELERY_BROKER_URL: unsupported broker scheme {scheme!r} (redis, amqp or filesystem)"
        )
    return _KINDS[scheme]


def celery_broker_options(url: str, *, visibility_timeout_s: int, filesystem_dir: Path) -> dict:
    """Celery settings (lower-case names, as ``app.conf`` takes them) for the broker at `url`."""
    kind = broker_kind(url)
    options = {
        "broker_transport_options": {},
        "broker_heartbeat": 120,  # Celery's default; only AMQP uses it
        "task_default_queue_type": "classic",
        "task_create_missing_queue_type": "classic",
        "worker_detect_quorum_queues": True,
    }
    if kind == "redis":
        options["broker_transport_options"] = {
            # Redis redelivers an unacknowledged job after this; it stays above the longest run.
            "visibility_timeout": visibility_timeout_s,
            # Look for jobs of dead workers every few seconds (kombu's default is every ~100 s).
            "unacked_restore_interval": max(1, min(10, visibility_timeout_s // 3)),
            "unacked_restore_throttle": 1,
        }
    elif kind == "rabbitmq":
        options.update(
            # Quorum queues are replicated and survive a node's restart with their messages.
            # Celery declares a queue when it first publishes or consumes: both settings are
            # needed, and every process must agree or RabbitMQ refuses the second declaration
            # (PRECONDITION_FAILED, x-queue-type). Quorum queues take no global QoS, which
            # worker_detect_quorum_queues turns off (prefetch stays one per process).
            task_default_queue_type="quorum",
            task_create_missing_queue_type="quorum",
            broker_heartbeat=RABBITMQ_HEARTBEAT_S,
            # The broker confirms each message: a publish returns once RabbitMQ has it, and one
            # it cannot take (an alarm) times out instead of sitting in a socket buffer.
            broker_transport_options={"confirm_publish": True},
        )
    elif kind == "filesystem":
        options["broker_transport_options"] = {
            "data_folder_in": str(filesystem_dir / "queue"),
            "data_folder_out": str(filesystem_dir / "queue"),
            "processed_folder": str(filesystem_dir / "processed"),
            "control_folder": str(filesystem_dir / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }
    return options
