"""Limits on readers' "Edit and run": a token bucket per client, in the try-it store (Redis,
or bin/run's SQLite file: runner/tryit_store.py).

The client is a keyed hash of the reader's network address under a salt drawn for the day and
kept only in the store (it expires two days later), so after that nobody, the site included, can
tell which address a bucket belonged to. The bucket key itself expires once the bucket would
be full again: nothing per client outlives a few minutes of inactivity.

Each run takes one token; a run that ended on a limit (timeout, memory, output, crash) takes
``HOSTILE_EXTRA_COST`` more, so a reader who keeps posting fork bombs or memory grabs is held
back sooner than one who edits honestly. The bucket may go into debt by at most one burst.
The check and the take are one atomic step in either store: concurrent posts cannot both pass
a bucket that has one token left.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from runner.tryit_store import store

BURST = 10  # runs a reader may start back to back
REFILL_PER_S = 1 / 6  # then one run every 6 seconds (10 a minute)
HOSTILE_EXTRA_COST = 4  # a run that hit a limit costs 5 tokens in all
SALT_TTL_S = 2 * 24 * 3600


class TryNotConfigured(Exception):
    """No store (TRYIT_STORE_URL empty): readers' runs cannot be limited, so they are not offered."""


@dataclass(frozen=True)
class BucketAnswer:
    allowed: bool
    retry_after_s: int


def connection():
    """The try-it store (runner/tryit_store.py): records with ``set``/``get``, and buckets."""
    if not settings.TRYIT_STORE_URL:
        raise TryNotConfigured("Edit and run needs a store (REDIS_URL, or TRYIT_STORE_URL).")
    return store()


def _day_salt(db) -> bytes:
    key = f"tryit:salt:{timezone.localdate().isoformat()}"
    db.set(key, secrets.token_hex(32), nx=True, ex=SALT_TTL_S)
    return db.get(key) or b""


def client_hash(*, address: str) -> str:
    """Today's pseudonym for an address: the same all day, unlinkable once the salt is gone."""
    salt = _day_salt(connection())
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:32]


def _bucket(*, client: str, cost: float, force: bool) -> BucketAnswer:
    allowed, wait = connection().take_tokens(
        f"tryit:bucket:{client}", burst=BURST, rate=REFILL_PER_S, cost=cost, force=force
    )
    return BucketAnswer(allowed=allowed, retry_after_s=0 if allowed else max(1, math.ceil(wait)))


def bucket_take(*, client: str) -> BucketAnswer:
    """Take one run from the client's bucket, or say how long until one is there."""
    return _bucket(client=client, cost=1, force=False)


def bucket_charge_hostile(*, client: str) -> None:
    """A run that ended on a limit: take the extra cost even past empty (into debt)."""
    _bucket(client=client, cost=HOSTILE_EXTRA_COST, force=True)


def bucket_reset(*, client: str) -> None:
    connection().delete(f"tryit:bucket:{client}")
