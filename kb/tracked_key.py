"""One Redis key's value, kept in this process until Redis says it changed.

The page cache's generation is read on every request, and the round trip to Redis was the
largest cost of a cached page (~0.2 ms of ~0.5 ms). Redis's server-assisted client-side caching
(`CLIENT TRACKING`, Redis >= 6) removes it: after a GET on a tracking connection, Redis
remembers that this client read the key, and when anything changes it (a write from any client,
expiry, eviction, FLUSHDB) it sends an invalidation message to our subscriber connection. A
read is then one `poll()` of two sockets, with no round trip.

Why a reader never gets a stale value: Redis queues the invalidation inside the command that
changes the key and writes it in the same event-loop turn as that command's reply. A writer
that then makes one more round trip (`kb.page_cache` reads the key back after bumping it) gets
its second answer only after that turn is over, so by the time it returns, the invalidation
is in every tracking process's socket buffer, where the next `poll()` sees it.

Anything unexpected (a closed socket, data on the tracking connection, an error) throws both
connections away; the next read connects afresh. And whatever the sockets say, the value is
read again after `max_age_s`, so even a connection that died without a word (a host gone, no
FIN) cannot keep a value for long. Where Redis refuses `CLIENT` (older than 6, an ACL, a
renamed command), every read is a plain GET, as before tracking.

No Django here: this is plain redis-py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time

import redis

logger = logging.getLogger(__name__)
_UNKNOWN = object()


class TrackedKey:
    def __init__(self, url: str, key: str, *, max_age_s: float = 1.0, socket_timeout: float = 5.0):
        self.key = key
        self.max_age_s = max_age_s
        # RESP2: invalidations arrive as pub/sub messages on a second connection (REDIRECT),
        # so the connection that reads the key only ever carries our own replies. The two
        # connections are made directly, not taken from a pool: a pool counts every connection
        # it makes against max_connections and, as these are never given back, it would refuse
        # to make more after ~50 reconnects (a Redis restart or a killed client each costs 2).
        pool = redis.ConnectionPool.from_url(url, protocol=2, socket_timeout=socket_timeout)
        self._connection_class, self._connection_kwargs = pool.connection_class, pool.connection_kwargs
        self._lock = threading.Lock()
        self._pid = None
        self._reader = self._subscriber = None
        self.subscriber_id = None
        self._poller = None  # poll(), not select(): a process may hold file descriptors >= 1024
        self._reader_fd = -1
        self._value = _UNKNOWN
        self._read_at = 0.0
        self.tracking = True  # False where Redis refuses CLIENT TRACKING: a GET per read

    def get(self) -> bytes | None:
        with self._lock:
            try:
                return self._get()
            except Exception:  # e.g. Redis restarted: once more on new connections, or fail
                self.close()
            try:
                return self._get()
            except Exception:
                self.close()
                raise

    def forget(self) -> None:
        """Read the key from Redis next time (this process has just changed it)."""
        self._value = _UNKNOWN

    def close(self) -> None:
        for connection in (self._reader, self._subscriber):
            if connection is not None:
                with contextlib.suppress(Exception):  # a broken socket: nothing else to do
                    connection.disconnect()
        self._reader = self._subscriber = None
        self._poller, self._reader_fd = None, -1
        self._value = _UNKNOWN

    def _get(self) -> bytes | None:
        if self._reader is None or self._pid != os.getpid():  # not the sockets of a forked parent
            self._connect()
        if not self.tracking:
            self._reader.send_command("GET", self.key)
            return self._reader.read_response()
        readable = {fd for fd, _ in self._poller.poll(0)}
        if readable:
            if self._reader_fd in readable:
                raise redis.ConnectionError("unexpected data or EOF on the tracking connection")
            self._value = _UNKNOWN
            while self._subscriber.can_read(timeout=0):
                message = self._subscriber.read_response()  # EOF raises: reconnect next time
                if not isinstance(message, list):
                    raise redis.ConnectionError(f"unexpected message {message!r}")
        if self._value is _UNKNOWN or time.monotonic() - self._read_at > self.max_age_s:
            self._reader.send_command("GET", self.key)
            self._value = self._reader.read_response()
            self._read_at = time.monotonic()
        return self._value

    def _connect(self) -> None:
        self._pid = os.getpid()
        self._value = _UNKNOWN
        reader = self._reader = self._connection_class(**self._connection_kwargs)
        reader.connect()
        subscriber = self._subscriber = self._connection_class(**self._connection_kwargs)
        subscriber.connect()
        try:
            subscriber.send_command("CLIENT", "ID")
            subscriber_id = self.subscriber_id = subscriber.read_response()
            subscriber.send_command("SUBSCRIBE", "__redis__:invalidate")
            subscriber.read_response()
            reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", subscriber_id)
            reader.read_response()
        except redis.ResponseError as refused:
            if self.tracking:
                logger.warning("Redis refused client tracking (%s): a GET of %s per read", refused, self.key)
            self.tracking = False
            subscriber.disconnect()
            self._subscriber = None
            return
        self.tracking = True
        self._poller = select.poll()
        for connection in (reader, subscriber):
            self._poller.register(connection._sock, select.POLLIN)
        self._reader_fd = reader._sock.fileno()
