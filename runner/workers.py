"""Which workers are live, what environment the pool runs, and each worker's heartbeat.

A worker counts as live while its heartbeat is recent; the web side reads that to route gpu
runs, to show the pool and to answer /health, and the run state transitions read it to tell a
worker that died (its runs are orphaned) from one that is merely slow.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .engine.fingerprint import environment_fingerprint
from .models import Worker


def _live_window() -> timedelta:
    """A worker is live while its heartbeat is younger than this (it beats every few seconds)."""
    return timedelta(seconds=settings.RUNNER_WORKER_LIVE_WINDOW_S)


def live_workers(*, queue: str | None = None):
    workers = Worker.objects.filter(last_heartbeat__gte=timezone.now() - _live_window())
    if queue:
        workers = [w for w in workers if queue in w.queues]
    return list(workers)


_POOL_FINGERPRINT_TTL_S = 10.0
_pool_fingerprints: dict[str, tuple[float, dict]] = {}


def pool_fingerprint(*, queue: str) -> dict:
    """The environment a run on this queue gets: the freshest worker's, else this machine's.

    Kept for a few seconds per process: workers change environment on a deploy, not per run.
    """
    cached = _pool_fingerprints.get(queue)
    if cached is not None and time.monotonic() - cached[0] < _POOL_FINGERPRINT_TTL_S:
        return cached[1]
    fingerprint = next(
        (
            w.fingerprint
            for w in Worker.objects.order_by("-last_heartbeat")
            if queue in w.queues and w.fingerprint
        ),
        None,
    )
    if fingerprint is None:
        return environment_fingerprint()  # no worker yet: not cached, so the first one counts
    _pool_fingerprints[queue] = (time.monotonic(), fingerprint)
    return fingerprint


def worker_is_live(name: str, instance: str | None = None) -> bool:
    """A worker of that name beats; with `instance`, that very start of it (not a restart)."""
    workers = Worker.objects.filter(name=name, last_heartbeat__gte=timezone.now() - _live_window())
    if instance:
        workers = workers.filter(instance=instance)
    return workers.exists()


def worker_heartbeat(
    *, name: str, queues: list[str], fingerprint: dict, started_at=None, instance: str = ""
) -> None:
    now = timezone.now()
    Worker.objects.update_or_create(
        name=name,
        defaults={
            "instance": instance,
            "queues": queues,
            "device": fingerprint.get("device", "cpu"),
            "fingerprint": fingerprint,
            "last_heartbeat": now,
            "started_at": started_at or now,
        },
    )
