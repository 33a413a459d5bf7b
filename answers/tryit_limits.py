"""Limits on readers' "Edit and run": a token bucket per client, in Redis.

The client is a keyed hash of the reader's network address under a salt drawn for the day and
kept only in Redis (it expires two days later), so after that nobody, the site included, can
tell which address a bucket belonged to. The bucket key itself expires once the bucket would
be full again: nothing per client outlives a few minutes of inactivity.

Each run takes one token; a run that ended on a limit (timeout, memory, output, crash) takes
``HOSTILE_EXTRA_COST`` more, so a reader who keeps posting fork bombs or memory grabs is held
back sooner than one who edits honestly. The bucket may go into debt by at most one burst.
The check and the take are one Lua script: concurrent posts cannot both pass a bucket that
has one token left.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

import redis
from django.conf import settings
from django.utils import timezone

BURST = 10  # runs a reader may start back to back
REFILL_PER_S = 1 / 6  # then one run every 6 seconds (10 a minute)
HOSTILE_EXTRA_COST = 4  # a run that hit a limit costs 5 tokens in all
SALT_TTL_S = 2 * 24 * 3600

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


class TryNotConfigured(Exception):
    """No Redis (REDIS_URL unset): readers' runs cannot be limited, so they are not offered."""


@dataclass(frozen=True)
class BucketAnswer:
    allowed: bool
    retry_after_s: int


@functools.cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def connection() -> redis.Redis:
    url = getattr(settings, "TRYIT_REDIS_URL", "") or settings.CACHE_URL
    if not url:
        raise TryNotConfigured("Edit and run needs Redis (REDIS_URL).")
    return _client_for(url)


def _day_salt(db: redis.Redis) -> bytes:
    key = f"tryit:salt:{timezone.localdate().isoformat()}"
    db.set(key, secrets.token_hex(32), nx=True, ex=SALT_TTL_S)
    return db.get(key) or b""


def client_hash(*, address: str) -> str:
    """Today's pseudonym for an address: the same all day, unlinkable once the salt is gone."""
    salt = _day_salt(connection())
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:32]


def _bucket(*, client: str, cost: float, force: bool) -> BucketAnswer:
    db = connection()
    allowed, wait = db.eval(
        _BUCKET, 1, f"tryit:bucket:{client}", BURST, REFILL_PER_S, cost, "1" if force else "0"
    )
    return BucketAnswer(
        allowed=bool(allowed), retry_after_s=max(1, math.ceil(float(wait))) if not allowed else 0
    )


def bucket_take(*, client: str) -> BucketAnswer:
    """Take one run from the client's bucket, or say how long until one is there."""
    return _bucket(client=client, cost=1, force=False)


def bucket_charge_hostile(*, client: str) -> None:
    """A run that ended on a limit: take the extra cost even past empty (into debt)."""
    _bucket(client=client, cost=HOSTILE_EXTRA_COST, force=True)


def bucket_reset(*, client: str) -> None:
    connection().delete(f"tryit:bucket:{client}")
