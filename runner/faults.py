"""Infrastructure faults: what went wrong around a run rather than in its cells.

A database that restarts, a media disk that fills up or a fork server that is killed says
nothing about the answer's code, so it must never be stored as a cell's result: a database
write is retried on a new connection, and anything else ends the attempt and queues the run
again (runner.recovery.run_requeue_after_fault), like a lost worker, up to its attempt limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

DATABASE_ERRORS = (OperationalError, InterfaceError)
# How long a write waits for the database: a restart takes seconds; past this the run is left
# to the stale-run sweep (its deadline), which needs the database back anyway.
DB_RETRY_BUDGET_S = 120.0

# The engine's words for a fork server that died under a run (runner/engine/forkserver.py).
_SERVER_DIED = "the fork server died"


class InfrastructureFault(Exception):
    """This attempt cannot go on for a reason outside the answer; `reason` is shown to staff."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def retrying_db(write: Callable[[bool], T], *, budget_s: float = DB_RETRY_BUDGET_S) -> T:
    """`write(retry)`, again on a new connection while the database is unreachable, with back-off.

    Only for a write that is one transaction (or none), outside any other: a connection can die
    after the commit and before its answer, so `write(True)` must accept finding it done."""
    deadline = time.monotonic() + budget_s
    pause = 0.5
    retry = False
    while True:
        try:
            return write(retry)
        except DATABASE_ERRORS as exc:
            # Drop the dead connection (after PostgreSQL restarts, every old one is dead): the
            # next query opens a new one.
            connection.close()
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("database unavailable (%s); trying again in %.1f s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
            retry = True


def describe(exc: BaseException) -> str | None:
    """The fault to show staff, or None when `exc` is not an infrastructure fault."""
    if isinstance(exc, InfrastructureFault):
        return exc.reason
    if isinstance(exc, DATABASE_ERRORS):
        return f"database unavailable ({type(exc).__name__}: {exc})".strip()
    if isinstance(exc, OSError):
        # The worker's own file and network I/O (figure storage, the broker): a cell's errors
        # arrive as results, never as exceptions here.
        return f"storage or I/O failure ({type(exc).__name__}: {exc})"
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency of the broker transport
        return None
    if isinstance(exc, redis.exceptions.ConnectionError):
        return f"Redis unavailable ({exc})"
    return None


def check_result(result) -> None:
    """Raise InfrastructureFault if this cell result is the engine reporting its server's death
    (it stands in for a cell that never got to finish, not for anything the cell did)."""
    if result is not None and (result.error or "").startswith(_SERVER_DIED):
        raise InfrastructureFault(result.error)
