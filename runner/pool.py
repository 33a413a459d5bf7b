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
from .engine.twice import SECOND_HASH_SEED  # the second of a new revision's two runs

logger = logging.getLogger(__name__)

# This start of the worker. Made when the worker's main process imports this module (before
# Celery forks its pool), so every pool process of one start shares it and a restart under the
# same hostname gets a new one: runs claimed by the previous start are then seen as orphaned.
WORKER_INSTANCE = uuid.uuid4().hex

_server: ForkServer | None = None
_second: ForkServer | None = None
# One lock each: a first job waits for its own server only, not for the second one's preload.
_server_lock = threading.Lock()
_second_lock = threading.Lock()


def _running(server: ForkServer | None, **options) -> ForkServer:
    """`server` if it is alive, else a new one. Each server dies with the thread that spawned it
    (PR_SET_PDEATHSIG is per thread), so only long-lived threads call this: the task's (the
    pool process's main thread) and the warm-up thread, which never ends (warm_start)."""
    if server is not None and server.process is not None and server.process.poll() is None:
        return server
    if server is not None:
        server.close()
    return ForkServer.start(sandbox_uid=sandbox_uid(), data_dirs=settings.RUNNER_SANDBOX_DATA_DIRS, **options)


def fork_server() -> ForkServer:
    """This process's fork server, started on first use (and again if it died)."""
    global _server
    with _server_lock:
        _server = _running(_server)
        return _server


def second_fork_server() -> ForkServer:
    """The server of a new revision's second, independent run; started here, not by
    the run's own thread, which ends with the run and would take the server with it."""
    global _second
    with _second_lock:
        _second = _running(_second, hash_seed=SECOND_HASH_SEED)
        return _second


def warm_start(*, second: bool = True) -> None:
    """Start the fork servers in the background, so the pool process reports up at once.

    ``second`` is False on a worker that takes no verification run (the try-it worker): the
    second server serves only a new revision's second run, and costs a preloaded interpreter.

    Importing torch takes ~3.7 s per server here (7 s for two), above Celery's 4 s
    worker_proc_alive_timeout: started in worker_process_init, every pool start timed out and
    was killed, over and over. A first job that arrives meanwhile waits on
    the lock for the server being started. The thread then stays, so the servers it spawned
    keep their parent thread (see _running)."""

    def warm() -> None:
        try:
            fork_server()
            if second:
                second_fork_server()
        except Exception:  # the first job starts them again, and reports why if it cannot
            logger.exception("could not start the fork servers ahead of the first job")
        threading.Event().wait()

    threading.Thread(target=warm, name="kb-fork-servers", daemon=True).start()


def sandbox_uid() -> int:
    """This worker process's own sandbox uid: RLIMIT_NPROC counts per uid, so one worker's
    cells cannot use up another's processes."""
    from celery.utils.log import current_process_index

    return settings.RUNNER_SANDBOX_UID_BASE + (current_process_index(base=0) or 0)


def fork_server_stop() -> None:
    global _server, _second
    with _server_lock, _second_lock:
        for server in (_server, _second):
            if server is not None:
                server.close()
        _server = _second = None


def heartbeat_start(*, name: str, queues: list[str], on_first_beat=None) -> threading.Event:
    """Publish what this worker is every few seconds until the returned event is set."""
    from .workers import worker_heartbeat

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
