"""Where try-it state lives: the runs, the global cap on runs in flight, readers' small per-run
records and their token buckets. One interface, two implementations, chosen here only:

- ``runner.tryit_redis.RedisTryStore`` (``redis://``, ``rediss://``, ``unix://``): production
  and the tests; every web and worker process on every host shares it.
- ``runner.tryit_sqlite.SqliteTryStore`` (``sqlite:///path``): bin/run's one machine with no
  Redis; the web server and its workers share one SQLite file, so it serves one host only.

settings.TRYIT_STORE_URL picks one (config/settings.py: TRYIT_STORE_URL, else TRYIT_REDIS_URL,
else REDIS_URL, else, in development only, a SQLite file under KB_VAR_DIR). Empty: no store,
and try-it is unavailable.

Both keep the same contract (tests/runner/test_tryit_store_contract.py runs it on both):

``open(token, *, deadline, job)``
    Takes a slot and writes the run's record ("queued") in one atomic step, after giving back
    every slot whose deadline has passed; raises ``TryBusy(retry_after_s)`` when
    TRYIT_MAX_IN_FLIGHT slots are held. The record lives until the deadline plus
    TRYIT_RESULT_TTL_S.
``claim(token) -> dict | None``
    The job, once: the first claim marks the run "running", every later one gets None.
``set_progress(token, *, progress)``, ``put_result(token, result)``
    The worker's updates; the result frees the slot and lives TRYIT_RESULT_TTL_S from then.
``read(token) -> dict | None``
    ``{"state", "deadline", "result", "progress"}``, or None once expired (or never opened).
``release(token)``, ``discard(token)``, ``in_flight() -> int``
    Give the slot back; drop the run too; the slots held now.
``set(key, value, *, ex, nx=False) -> bool``, ``get(key) -> bytes | None``, ``delete(key)``
    Small records that expire ``ex`` seconds after they were set (``nx``: only if absent).
``take_tokens(key, *, burst, rate, cost, force) -> (allowed, wait_s)``
    A token bucket, full at ``burst``, refilled at ``rate`` a second; takes ``cost`` if there,
    else (with ``force``) goes into debt down to ``-burst``. Check and take are one step.

Every call fails within about two seconds when the store cannot answer: ``TryUnavailable``.
"""

from __future__ import annotations

import threading

from django.conf import settings

SOCKET_TIMEOUT_S = 2.0


class TryBusy(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"Too many try-it runs at once; try again in {retry_after_s} s.")
        self.retry_after_s = retry_after_s


class TryUnavailable(Exception):
    pass


def busy_wait_s(*, first_deadline: float, now: float) -> int:
    """Retry-After for a full cap: most runs take well under a second, and the earliest
    deadline in flight bounds the wait."""
    return max(1, min(5, int(first_deadline - now)))


_stores: dict[str, object] = {}
_lock = threading.Lock()


def _new_store(url: str):
    if url.startswith("sqlite:"):
        from runner.tryit_sqlite import SqliteTryStore

        return SqliteTryStore(url)
    from runner.tryit_redis import RedisTryStore

    return RedisTryStore(url)


def store():
    """The store that settings.TRYIT_STORE_URL names (one per URL and process)."""
    url = settings.TRYIT_STORE_URL
    if not url:
        raise TryUnavailable("Try-it runs need a store: set REDIS_URL (or TRYIT_STORE_URL).")
    with _lock:
        if url not in _stores:
            _stores[url] = _new_store(url)
        return _stores[url]
