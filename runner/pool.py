"""The worker side: one fork server per worker process, and the worker's heartbeat."""

from __future__ import annotations

import logging
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .engine.fingerprint import environment_fingerprint
from .engine.forkserver import ForkServer
from .engine.twice import SECOND_HASH_SEED  # issue 12: the second of a new revision's two runs

logger = logging.getLogger(__name__)

# This start of the worker. Made when the worker's main process imports this module (before
# Celery forks its pool), so every pool process of one start shares it and a restart under the
# same hostname gets a new one: runs claimed by the previous start are then seen as orphaned.
WORKER_INSTANCE = uuid.uuid4().hex

_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    """This process's fork server, started on first use (and again if it died)."""
    global _server
    with _server_lock:
        if _server is None:
            _server = ForkServer.start(sandbox_uid=sandbox_uid(), data_dirs=settings.RUNNER_SANDBOX_DATA_DIRS)
        return _server


def sandbox_uid() -> int:
    """This worker process's own sandbox uid: RLIMIT_NPROC counts per uid, so one worker's
    cells cannot use up another's processes."""
    from celery.utils.log import current_process_index

    return settings.RUNNER_SANDBOX_UID_BASE + (current_process_index(base=0) or 0)


_second: ForkServer | None = None


def second_fork_server() -> ForkServer:
    global _second
    with _server_lock:
        if _second is None:
            _second = ForkServer.start(
                sandbox_uid=sandbox_uid(),
                data_dirs=settings.RUNNER_SANDBOX_DATA_DIRS,
                hash_seed=SECOND_HASH_SEED,
            )
        return _second


def fork_server_stop() -> None:
    global _server, _second
    with _server_lock:
        for server in (_server, _second):
            if server is not None:
                server.close()
        _server = _second = None


def heartbeat_start(*, name: str, queues: list[str], on_first_beat=None) -> threading.Event:
    """Publish what this worker is every few seconds until the returned event is set."""
    from .services import worker_heartbeat

    stop = threading.Event()
    started_at = timezone.now()
    fingerprint = environment_fingerprint()

    def beat() -> None:
        first = on_first_beat
        while True:
            close_old_connections()
            try:
                worker_heartbeat(
                    name=name,
                    queues=queues,
                    fingerprint=fingerprint,
                    started_at=started_at,
                    instance=WORKER_INSTANCE,
                )
                if first is not None:
                    first()
                    first = None
            except Exception:  # the database may be briefly away; the next beat tries again
                logger.exception("worker heartbeat failed")
            if stop.wait(settings.RUNNER_HEARTBEAT_INTERVAL_S):
                return

    threading.Thread(target=beat, name="kb-heartbeat", daemon=True).start()
    return stop
