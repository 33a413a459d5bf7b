"""Spam protection without a CAPTCHA service: a honeypot, a signed time trap and a rate limit.

None of these ask anything of a human visitor; each catches a different kind of bot (form
fillers that complete every field, scripts that post in under a second or replay an old form,
and floods from one client).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest

from config.client_address import client_key

logger = logging.getLogger(__name__)

HONEYPOT_FIELD = "website"
_TOKEN_SALT = "demo_requests.time_trap"  # noqa: S105 - a signing salt, not a secret


class TimeTrap(enum.Enum):
    OK = "ok"
    TOO_FAST = "too_fast"
    TOO_OLD = "too_old"
    INVALID = "invalid"
    USED = "used"


def honeypot_tripped(data) -> bool:
    return bool(str(data.get(HONEYPOT_FIELD, "")).strip())


def time_token_issue(*, issued_at: float | None = None) -> str:
    """A signed note of when the form was shown; it cannot be forged or moved back in time."""
    return signing.dumps({"t": time.time() if issued_at is None else issued_at}, salt=_TOKEN_SALT)


def time_token_check(token: str, *, now: float | None = None) -> TimeTrap:
    max_age = settings.DEMO_REQUEST_MAX_AGE_S
    try:
        issued_at = float(signing.loads(token or "", salt=_TOKEN_SALT, max_age=max_age)["t"])
    except signing.SignatureExpired:
        return TimeTrap.TOO_OLD
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return TimeTrap.INVALID
    elapsed = (time.time() if now is None else now) - issued_at
    if elapsed > max_age:
        return TimeTrap.TOO_OLD
    if elapsed < settings.DEMO_REQUEST_MIN_SECONDS:
        return TimeTrap.TOO_FAST
    if not _token_first_use(token, max_age):
        return TimeTrap.USED
    return TimeTrap.OK


def _token_first_use(token: str, max_age: int) -> bool:
    """True the first time a token is accepted: one shown form carries one request, so a
    replayed token cannot carry posts across rate windows. The note lives in
    the shared cache (Redis in production) as long as the token could be valid; `add` is atomic
    there, so two posts of one token at once accept one."""
    key = "demo-requests:token:" + hashlib.sha256(token.encode()).hexdigest()
    try:
        return cache.add(key, 1, timeout=max_age)
    except Exception:  # the cache is down: accept (the honeypot and the signature still apply)
        logger.exception("Single-use check unavailable; demo form token accepted without it")
        return True


def rate_limit_hit(request: HttpRequest) -> bool:
    """Count this post against its client; True once the client is over the limit.

    A fixed window in the shared cache (Redis in production), so every web process sees the
    same count. `add` then `incr` are each atomic in Redis.
    """
    limit, window_s = settings.DEMO_REQUEST_RATE_LIMIT
    key = f"demo-requests:rate:{client_key(request)}"
    try:
        cache.add(key, 0, timeout=window_s)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr: this post opens a new window
            cache.add(key, 1, timeout=window_s)
            count = 1
    except Exception:  # the cache is down: take the request (honeypot and time trap still apply)
        logger.exception("Rate limit unavailable; demo request accepted without it")
        return False
    return count > limit
