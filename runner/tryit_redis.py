"""Try-it state in Redis (the contract: runner/tryit_store.py), shared by every host.

    tryit:run:<token>   hash: state (queued|running|done), deadline (epoch s), job, result
    tryit:in-flight     sorted set: token -> deadline; one member per run holding a slot

A slot is taken atomically with the record (one Lua script) and given back when the run ends;
a run whose worker died gives it back at its deadline, when the next start sweeps out every
member whose deadline has passed, so no slot can leak. The token bucket's check and take are
one Lua script too, timed by Redis's own clock. Every call is bounded by a two-second socket
timeout and a Redis that cannot be reached is TryUnavailable, never a hang.
"""

from __future__ import annotations

import json
import time

import redis
from django.conf import settings

from runner.tryit_store import SOCKET_TIMEOUT_S, TryBusy, TryUnavailable, busy_wait_s

IN_FLIGHT_KEY = "tryit:in-flight"


def run_key(token: str) -> str:
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

# KEYS: bucket key. ARGV: burst, rate, cost, force. Returns {allowed, wait_s}.
_BUCKET = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == "1"
local t = redis.call("TIME")
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
elseif force then
  tokens = math.max(-burst, tokens - cost)
end
redis.call("HSET", KEYS[1], "tokens", tostring(tokens), "at", tostring(now))
redis.call("PEXPIRE", KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
local wait = 0
if allowed == 0 then wait = (cost - tokens) / rate end
return {allowed, tostring(wait)}
"""


class RedisTryStore:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        self._open = self.client.register_script(_OPEN)
        self._claim = self.client.register_script(_CLAIM)
        self._bucket = self.client.register_script(_BUCKET)

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise TryUnavailable(
                "Try-it runs are unavailable right now (their store cannot be reached)."
            ) from exc

    # --- runs and the cap ---------------------------------------------------------------------
    def open(self, token: str, *, deadline: float, job: str) -> None:
        now = time.time()
        ttl = int(deadline - now) + settings.TRYIT_RESULT_TTL_S
        first = self._call(
            self._open,
            keys=[IN_FLIGHT_KEY, run_key(token)],
            args=[now, settings.TRYIT_MAX_IN_FLIGHT, token, deadline, job, ttl],
        )
        if first not in (0, b"0", None):
            raise TryBusy(busy_wait_s(first_deadline=float(first), now=now))

    def claim(self, token: str) -> dict | None:
        job = self._call(self._claim, keys=[run_key(token)])
        return json.loads(job) if job else None

    def set_progress(self, token: str, *, progress: dict) -> None:
        self._call(self.client.hset, run_key(token), "progress", json.dumps(progress))

    def put_result(self, token: str, result: dict) -> None:
        """The run's end: its result replaces the job, kept TRYIT_RESULT_TTL_S from now."""
        key = run_key(token)
        with self.client.pipeline() as pipe:
            pipe.hset(key, mapping={"state": "done", "result": json.dumps(result), "deadline": time.time()})
            pipe.hdel(key, "job")
            pipe.expire(key, settings.TRYIT_RESULT_TTL_S)
            pipe.zrem(IN_FLIGHT_KEY, token)
            self._call(pipe.execute)

    def read(self, token: str) -> dict | None:
        fields = self._call(self.client.hmget, run_key(token), "state", "deadline", "result", "progress")
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
        self._call(self.client.delete, run_key(token))
        self.release(token)

    def in_flight(self) -> int:
        return self._call(self.client.zcount, IN_FLIGHT_KEY, time.time(), "+inf")

    # --- small records and token buckets ------------------------------------------------------
    def set(self, key: str, value: str | bytes, *, ex: int, nx: bool = False) -> bool:
        return bool(self._call(self.client.set, key, value, ex=ex, nx=nx))

    def get(self, key: str) -> bytes | None:
        return self._call(self.client.get, key)

    def delete(self, key: str) -> None:
        self._call(self.client.delete, key)

    def take_tokens(
        self, key: str, *, burst: float, rate: float, cost: float, force: bool
    ) -> tuple[bool, float]:
        allowed, wait = self._call(self._bucket, keys=[key], args=[burst, rate, cost, "1" if force else "0"])
        return bool(allowed), float(wait)
