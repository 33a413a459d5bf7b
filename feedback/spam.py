"""A flood limit for feedback posts, counted per client in the shared cache (as the demo form)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from config.client_address import client_key

logger = logging.getLogger(__name__)


def rate_limit_hit(request: HttpRequest) -> bool:
    """Count this post against its client's window; True once the client is over the limit."""
    limit, window_s = settings.FEEDBACK_RATE_LIMIT
    key = f"feedback:rate:{client_key(request)}"
    try:
        cache.add(key, 0, timeout=window_s)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: this post opens a new window
            cache.add(key, 1, timeout=window_s)
            count = 1
    except Exception:  # the cache is down: take the post (honeypot and one-vote rule still apply)
        logger.exception("Rate limit unavailable; feedback accepted without it")
        return False
    return count > limit
