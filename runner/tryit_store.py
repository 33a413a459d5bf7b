"""Try-it records and the global cap on runs in flight, in Redis (never the database).

    tryit:run:<token>   hash: state (queued|running|done), deadline (epoch s), job, result
    tryit:in-flight     sorted set: token -> deadline; one member per run holding a slot

A slot is taken atomically with the record (one Lua script) and given back when the run ends;
a run whose worker died gives it back at its deadline, when the next start sweeps out every
member whose deadline has passed, so no slot can leak. Every call is bounded by a two-second
socket timeout and a Redis that cannot be reached is TryUnavailable, never a hang.
"""

from __future__ import annotations

import json
import threading
import time

import redis
from django.conf import settings

IN_FLIGHT_KEY = "tryit:in-flight"
SOCKET_TIMEOUT_S = 2.0


class TryBusy(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"Too many try-it runs at once; try again in {retry_after_s} s.")
        self.retry_after_s = retry_after_s


class TryUnavailable(Exception):
    pass


def _run_key(token: str) -> str:
    return f"tryit:run:{token}"


# KEYS: in-flight set, run key. ARGV: now, cap, token, deadline, job, ttl.
# Returns 0 when the slot was taken, else the earliest deadline in flight.
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(first[2])
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[2], 'state', 'queued', 'deadline', ARGV[4], 'job', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 0
"""

# KEYS: run key. Returns the job and marks the run running, or nil if it is gone or taken.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return nil end
redis.call('HSET', KEYS[1], 'state', 'running')
return redis.call('HGET', KEYS[1], 'job')
"""


class TryStore:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        self._open = self.client.register_script(_OPEN)
        self._claim = self.client.register_script(_CLAIM)

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise TryUnavailable(
                "Try-it runs are unavailable right now (their store cannot be reached)."
            ) from exc

    def open(self, token: str, *, deadline: float, job: str) -> None:
        now = time.time()
        ttl = int(deadline - now) + settings.TRYIT_RESULT_TTL_S
        first = self._call(
            self._open,
            keys=[IN_FLIGHT_KEY, _run_key(token)],
            args=[now, settings.TRYIT_MAX_IN_FLIGHT, token, deadline, job, ttl],
        )
        if first not in (0, b"0", None):
            # Most runs take well under a second; the earliest deadline bounds the wait.
            raise TryBusy(max(1, min(5, int(float(first) - now))))

    def claim(self, token: str) -> dict | None:
        job = self._call(self._claim, keys=[_run_key(token)])
        return json.loads(job) if job else None

    def set_progress(self, token: str, **fields) -> None:
        self._call(self.client.hset, _run_key(token), mapping={k: json.dumps(v) for k, v in fields.items()})

    def put_result(self, token: str, result: dict) -> None:
        """The run's end: its result replaces the job, kept TRYIT_RESULT_TTL_S from now."""
        key = _run_key(token)
        with self.client.pipeline() as pipe:
            pipe.hset(key, mapping={"state": "done", "result": json.dumps(result), "deadline": time.time()})
            pipe.hdel(key, "job")
            pipe.expire(key, settings.TRYIT_RESULT_TTL_S)
            pipe.zrem(IN_FLIGHT_KEY, token)
            self._call(pipe.execute)

    def read(self, token: str) -> dict | None:
        fields = self._call(self.client.hmget, _run_key(token), "state", "deadline", "result", "progress")
        state, deadline, result, progress = fields
        if state is None:
            return None
        return {
            "state": state.decode(),
            "deadline": float(deadline or 0),
            "result": json.loads(result) if result else None,
            "progress": json.loads(progress) if progress else None,
        }

    def release(self, token: str) -> None:
        self._call(self.client.zrem, IN_FLIGHT_KEY, token)

    def discard(self, token: str) -> None:
        self._call(self.client.delete, _run_key(token))
        self.release(token)

    def in_flight(self) -> int:
        return self._call(self.client.zcount, IN_FLIGHT_KEY, time.time(), "+inf")


_stores: dict[str, TryStore] = {}
_lock = threading.Lock()


def store() -> TryStore:
    url = settings.TRYIT_REDIS_URL
    if not url:
        raise TryUnavailable("Try-it runs need Redis: set REDIS_URL (or TRYIT_REDIS_URL).")
    with _lock:
        if url not in _stores:
            _stores[url] = TryStore(url)
        return _stores[url]
