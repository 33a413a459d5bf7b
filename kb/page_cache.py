"""Whole public pages, cached once per kind of reader and shared by every process.

An article page costs ~10 ms of CPU to build (template, ORM, related questions), while what an
anonymous reader gets depends on very little: the path, the host and the consent banner's
state. So `reader_cached` stores the rendered page under

    (generation, host, path and allowed query, consent state)

in the "pages" cache (Redis in production, so every gunicorn worker and the Celery workers
share it). What differs between two readers of the same kind is only the CSRF token: the page
is stored split around it and joined on every response with this reader's own token, so every
form (consent, "Run again") still posts. Signed-in users and requests carrying flash messages
are never cached: their pages are rendered live, and nothing of theirs is stored.

Invalidation: a page is never deleted, it becomes unreachable. Every key holds the current
*generation*, one integer in the same cache; services that change what readers can see call
`pages_changed()`, which bumps it (now, and again after the transaction commits, so a request
that read the old data cannot store it under the new generation). The generation starts from
the clock when the key is missing, so a flushed or evicted counter never revives old pages.
Each process keeps the generation it read until Redis tells it the key changed (kb.tracked_key),
so a cached page costs no round trip to Redis at all.

Conditional requests: the response carries a weak ETag made of the stored page and the
reader's CSRF secret (the page is valid for as long as both are) and the time it was stored as
Last-Modified; a matching If-None-Match / If-Modified-Since gets a 304 without a body.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
from functools import wraps

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.crypto import salted_hmac
from django.utils.http import http_date

from .tracked_key import TrackedKey

logger = logging.getLogger(__name__)

CACHE_ALIAS = "pages"
GENERATION_KEY = "generation"
# A day: entries of older generations expire by themselves; a live page is rebuilt at most daily.
TIMEOUT_S = 24 * 3600
_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
# Stored pages are split around their CSRF token; a new layout gets new keys.
ENTRY_FORMAT = "p2"
_DROPPED_HEADERS = {"content-length", "set-cookie", "vary"}


# Each process also keeps the pages it served last, under the same keys: the key holds the
# generation, so a local copy is never served after a change; and the generation itself is kept
# in-process until Redis says it changed (kb.tracked_key): no round trip at all for most requests.
LOCAL_MAX_ENTRIES = 200  # ~50 KB each
_local: dict[str, dict] = {}


def _local_put(key: str, entry: dict) -> None:
    if len(_local) >= LOCAL_MAX_ENTRIES:
        _local.clear()  # entries of old generations go with the rest; the next requests refill it
    _local[key] = entry


def _cache():
    return caches[CACHE_ALIAS]


_tracked: dict[tuple[str, str], TrackedKey] = {}  # (Redis URL, the generation's full key)


def _read_generation(cache) -> int | None:
    """The counter, read on every request: kept in-process while Redis says it is unchanged.

    Only the first read after a change costs a round trip (see kb.tracked_key); Django's
    RedisCache stores integers unpickled, so its incr/set and this plain GET agree.
    """
    if not isinstance(cache, RedisCache):
        return cache.get(GENERATION_KEY)
    where = (cache._servers[0], cache.make_and_validate_key(GENERATION_KEY))
    tracked = _tracked.get(where)
    if tracked is None:
        tracked = _tracked[where] = TrackedKey(*where)
    value = tracked.get()
    return None if value is None else int(value)


def generation() -> int:
    cache = _cache()
    value = _read_generation(cache)
    if value is None:
        cache.add(GENERATION_KEY, time.time_ns(), None)
        value = cache.get(GENERATION_KEY)
    return value


def _bump() -> None:
    cache = _cache()
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # missing (flushed, evicted): restart from the clock, above any old value
            cache.set(GENERATION_KEY, time.time_ns(), None)
        # One more round trip: Redis answers it only after it has sent the invalidation of the
        # old value to every process that keeps it (kb.tracked_key), so none can serve it again.
        cache.get(GENERATION_KEY)
    except Exception:  # the cache is down: nothing can be served from it either; publish anyway
        logger.exception("could not bump the page cache generation")
    for tracked in _tracked.values():
        tracked.forget()


def pages_changed() -> None:
    """What readers see changed: no cached page may be served again, in any process.

    Bumped at once (this transaction's own reads) and again when it commits (everyone else's):
    once at commit however many changes one transaction makes, such as an import of many
    articles."""
    _bump()
    connection = transaction.get_connection()
    if not (connection.in_atomic_block and any(func is _bump for _, func, _ in connection.run_on_commit)):
        transaction.on_commit(_bump)


def _reader_kind(request: HttpRequest) -> str | None:
    """What the page depends on besides its URL; None when this reader's page must stay live."""
    if request.method not in ("GET", "HEAD"):  # the server sends no body for HEAD
        return None
    # A signed-in user and a flash message both need a cookie: the session's, or the messages'
    # (session auth, FallbackStorage). Without them, loading the user and the messages would
    # only find nobody and nothing, at a tenth of a cached page's cost.
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies or CookieStorage.cookie_name in cookies:
        if request.user.is_authenticated:
            return None  # staff and signed-in users: never stored, never served from the store
        messages = getattr(request, "_messages", None)
        if messages is not None and len(messages):
            return None  # a flash message is for this reader only
    consent = getattr(request, "consent", None)
    if consent is None:
        return "-"
    return f"{consent.needs_choice:d}{consent.analytics_allowed:d}{consent.gpc:d}"


def _key(request: HttpRequest, kind: str, generation_now: int) -> str:
    url = f"{request.get_host()}{request.get_full_path()}"
    return f"{ENTRY_FORMAT}:{generation_now}:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _entry_from(response: HttpResponse) -> dict | None:
    if response.status_code != 200 or response.streaming or response.cookies:
        return None
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    body = response.content
    tokens = set(_TOKEN.findall(body))
    if len(tokens) > 1:
        return None  # not one page-wide token: do not try to be clever, render it live
    # The page around its tokens: a response joins the parts with this reader's token.
    parts = body.split(tokens.pop()) if tokens else [body]
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS]
    stored_at = time.time()
    return {
        "parts": parts,
        "headers": headers,
        # The page without its token: NUL never occurs in a page (refused in every input stored).
        "digest": hashlib.sha256(b"\x00".join(parts)).hexdigest()[:20],
        "stored_at": stored_at,
        "last_modified": http_date(stored_at),
    }


@functools.cache
def _etag_key() -> bytes:
    return salted_hmac("kb.page_cache.etag", "").digest()


def _etag(entry: dict, csrf_secret: str | None) -> str:
    # Keyed BLAKE2 (one C call) rather than salted_hmac's two SHA-256 passes, on every response.
    reader = hashlib.blake2s((csrf_secret or "").encode(), key=_etag_key(), digest_size=6).hexdigest()
    return f'W/"{entry["digest"]}.{reader}"'


def _csrf_token(request: HttpRequest) -> str:
    """Django's `get_token`, with one `os.urandom` call where Django makes 64.

    The page cache hands a token to every reader of a page with a form, cookie-less readers
    (a new secret) included, and Django's `get_random_string` draws each of the 64 characters
    through `secrets.choice` (~60 µs, a sixth of a cached page). Same secret and token format
    (Django >= 4.1: a 32-character secret in the cookie, a 64-character masked token in the
    form), same uniform draw, same side effects on request.META, so CsrfViewMiddleware checks
    and renews it as its own.
    """
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        secret = _random_csrf_chars(CSRF_SECRET_LENGTH)
        request.META["CSRF_COOKIE"] = secret
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_csrf_chars(CSRF_SECRET_LENGTH)
    index, chars = _CSRF_INDEX, CSRF_ALLOWED_CHARS
    cipher = "".join(chars[(index[s] + index[m]) % len(chars)] for s, m in zip(secret, mask, strict=True))
    return mask + cipher


def _random_csrf_chars(length: int) -> str:
    # Bytes 0-247 map evenly onto the 62 characters (4 each); 248-255 are dropped, not folded.
    chars = b""
    while len(chars) < length:
        chars += os.urandom(length + 8).translate(_CSRF_BYTE_TO_CHAR, _CSRF_UNUSED_BYTES)
    return chars[:length].decode()


_CSRF_INDEX = {char: n for n, char in enumerate(CSRF_ALLOWED_CHARS)}
_CSRF_BYTE_TO_CHAR = bytes(ord(CSRF_ALLOWED_CHARS[b % 62]) for b in range(248)) + bytes(8)
_CSRF_UNUSED_BYTES = bytes(range(248, 256))


def _response(request: HttpRequest, entry: dict) -> HttpResponse:
    parts = entry["parts"]
    has_token = len(parts) > 1
    # The secret this reader already holds; a page with a form is only reusable while it lasts.
    secret = request.META.get("CSRF_COOKIE")
    etag = None
    if secret or not has_token:
        etag, last_modified = _etag(entry, secret), int(entry["stored_at"])
        not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
        if not_modified is not None:
            return _with_cache_headers(not_modified, private=has_token)
    if has_token:
        body = _csrf_token(request).encode().join(parts)
        if secret is None:
            etag = _etag(entry, request.META["CSRF_COOKIE"])
    else:
        body = parts[0]
    response = HttpResponse(body, headers=entry["headers"])
    response["ETag"] = etag
    response["Last-Modified"] = entry["last_modified"]
    return _with_cache_headers(response, private=has_token)


def _with_cache_headers(response: HttpResponse, *, private: bool) -> HttpResponse:
    # A proxy or browser may keep the page but must ask again (a cheap 304) before reusing it:
    # pages change the moment staff publish. A page holding a CSRF token is this reader's only.
    if private:
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, public=True, no_cache=True)
    return response


def reader_cached(view=None, *, params: tuple[str, ...] = ()):
    """Serve `view` from the pages cache to readers whose page is shared by their kind.

    `params` are the query parameters the page depends on (e.g. "page"); a request with any
    other parameter is rendered live, so made-up query strings cannot fill the cache.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            cache = _cache()
            if isinstance(cache, DummyCache):  # PAGE_CACHE=0: every page live, no local copy either
                return view(request, *args, **kwargs)
            kind = _reader_kind(request)
            if kind is None or any(name not in params for name in request.GET):
                return view(request, *args, **kwargs)
            try:
                key = _key(request, kind, generation())
                entry = _local.get(key) or cache.get(key)
            except Exception:  # the cache is down: readers still get their page, rendered live
                logger.warning("page cache unavailable; rendering %s live", request.path, exc_info=True)
                return view(request, *args, **kwargs)
            if entry is None:
                response = view(request, *args, **kwargs)
                entry = _entry_from(response)
                if entry is None:
                    return response
                try:
                    cache.set(key, entry, TIMEOUT_S)
                except Exception:
                    logger.warning("page cache unavailable; %s not stored", request.path, exc_info=True)
            _local_put(key, entry)
            return _response(request, entry)

        return wrapped

    return decorate(view) if view is not None else decorate
