"""Try-it state in one SQLite file (the contract: runner/tryit_store.py), for bin/run's one
machine with no Redis: the web server and its workers are separate processes on one host and
share the file (WAL mode, so reads never wait for a write).

Every change is one ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in at a time
across all processes, so counting the slots and taking one, claiming a queued run, or checking
and charging a bucket cannot interleave with another process doing the same. What expires
carries its own ``expires`` time (epoch seconds, the host's clock, which every process shares):
reads skip what has passed it and writes sweep it out, as Redis's key expiry would. A lock held
past two seconds (the busy timeout) or a file that cannot be opened is TryUnavailable.

A file on one disk is no use to a second host: deployments with more than one machine use
Redis.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from django.conf import settings

from runner.tryit_store import SOCKET_TIMEOUT_S, TryBusy, TryUnavailable, busy_wait_s

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tryit_runs (
  token TEXT PRIMARY KEY, state TEXT NOT NULL, deadline REAL NOT NULL,
  job TEXT, result TEXT, progress TEXT, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tryit_runs_expires ON tryit_runs (expires);
CREATE TABLE IF NOT EXISTS tryit_in_flight (token TEXT PRIMARY KEY, deadline REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tryit_records (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tryit_records_expires ON tryit_records (expires);
CREATE TABLE IF NOT EXISTS tryit_buckets (
  key TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tryit_buckets_expires ON tryit_buckets (expires);
"""


def path_of(url: str) -> Path:
    """``sqlite:///var/kb/tryit.sqlite3`` -> ``/var/kb/tryit.sqlite3``."""
    return Path(url.removeprefix("sqlite:").removeprefix("//"))


class SqliteTryStore:
    def __init__(self, url: str):
        self.path = path_of(url)
        self._local = threading.local()

    # --- connections: one per thread and process (a forked child opens its own) ----------------
    def _db(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=SOCKET_TIMEOUT_S, isolation_level=None)
        try:
            self._prepare_file(db)
            db.execute("PRAGMA synchronous=NORMAL")
            # A reader's code and result are deleted from the file, not only unlinked from it.
            db.execute("PRAGMA secure_delete=ON")
        except BaseException:
            db.close()
            raise
        self._local.held = (os.getpid(), db)
        return db

    def _prepare_file(self, db: sqlite3.Connection) -> None:
        """WAL mode and the tables, set once for the file (both persist in it). Only one process
        prepares it, under a lock file beside it: a dozen processes that each switched a new
        file to WAL and created its tables would fight for SQLite's exclusive lock, and a switch
        to WAL can answer "database is locked" without waiting out the busy timeout."""
        if _is_prepared(db):
            return
        with _held_lock(self.path.with_name(self.path.name + ".lock"), timeout_s=SOCKET_TIMEOUT_S):
            if _is_prepared(db):
                return
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise sqlite3.OperationalError(f"the try-it store stays in journal mode {mode!r}, not WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _write(self):
        """One transaction that holds SQLite's write lock from its first statement."""
        try:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise _unavailable() from exc

    def _row(self, sql: str, params: tuple):
        try:
            return self._db().execute(sql, params).fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise _unavailable() from exc

    # --- runs and the cap ---------------------------------------------------------------------
    def open(self, token: str, *, deadline: float, job: str) -> None:
        now = time.time()
        expires = now + int(deadline - now) + settings.TRYIT_RESULT_TTL_S
        with self._write() as db:
            db.execute("DELETE FROM tryit_in_flight WHERE deadline <= ?", (now,))
            db.execute("DELETE FROM tryit_runs WHERE expires <= ?", (now,))
            held, first = db.execute("SELECT COUNT(*), MIN(deadline) FROM tryit_in_flight").fetchone()
            full = held >= settings.TRYIT_MAX_IN_FLIGHT
            if not full:
                db.execute("INSERT OR REPLACE INTO tryit_in_flight VALUES (?, ?)", (token, deadline))
                db.execute(
                    "INSERT OR REPLACE INTO tryit_runs (token, state, deadline, job, expires)"
                    " VALUES (?, 'queued', ?, ?, ?)",
                    (token, deadline, job, expires),
                )
        if full:
            raise TryBusy(busy_wait_s(first_deadline=first if first is not None else now, now=now))

    def claim(self, token: str) -> dict | None:
        with self._write() as db:
            row = db.execute(
                "UPDATE tryit_runs SET state = 'running'"
                " WHERE token = ? AND state = 'queued' AND expires > ? RETURNING job",
                (token, time.time()),
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def set_progress(self, token: str, *, progress: dict) -> None:
        with self._write() as db:
            db.execute("UPDATE tryit_runs SET progress = ? WHERE token = ?", (json.dumps(progress), token))

    def put_result(self, token: str, result: dict) -> None:
        """The run's end: its result replaces the job, kept TRYIT_RESULT_TTL_S from now."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO tryit_runs (token, state, deadline, result, expires) VALUES (?, 'done', ?, ?, ?)"
                " ON CONFLICT (token) DO UPDATE SET state = 'done', deadline = excluded.deadline,"
                " result = excluded.result, job = NULL, expires = excluded.expires",
                (token, now, json.dumps(result), now + settings.TRYIT_RESULT_TTL_S),
            )
            db.execute("DELETE FROM tryit_in_flight WHERE token = ?", (token,))

    def read(self, token: str) -> dict | None:
        row = self._row(
            "SELECT state, deadline, result, progress FROM tryit_runs WHERE token = ? AND expires > ?",
            (token, time.time()),
        )
        if row is None:
            return None
        state, deadline, result, progress = row
        return {
            "state": state,
            "deadline": float(deadline),
            "result": json.loads(result) if result else None,
            "progress": json.loads(progress) if progress else None,
        }

    def release(self, token: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM tryit_in_flight WHERE token = ?", (token,))

    def discard(self, token: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM tryit_runs WHERE token = ?", (token,))
            db.execute("DELETE FROM tryit_in_flight WHERE token = ?", (token,))

    def in_flight(self) -> int:
        return self._row("SELECT COUNT(*) FROM tryit_in_flight WHERE deadline >= ?", (time.time(),))[0]

    # --- small records and token buckets ------------------------------------------------------
    def set(self, key: str, value: str | bytes, *, ex: int, nx: bool = False) -> bool:
        now = time.time()
        data = value.encode() if isinstance(value, str) else bytes(value)
        with self._write() as db:
            db.execute("DELETE FROM tryit_records WHERE expires <= ?", (now,))
            verb = "INSERT OR IGNORE" if nx else "INSERT OR REPLACE"
            cursor = db.execute(f"{verb} INTO tryit_records VALUES (?, ?, ?)", (key, data, now + ex))
            return cursor.rowcount == 1

    def get(self, key: str) -> bytes | None:
        row = self._row("SELECT value FROM tryit_records WHERE key = ? AND expires > ?", (key, time.time()))
        return bytes(row[0]) if row else None

    def delete(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM tryit_records WHERE key = ?", (key,))
            db.execute("DELETE FROM tryit_buckets WHERE key = ?", (key,))

    def take_tokens(
        self, key: str, *, burst: float, rate: float, cost: float, force: bool
    ) -> tuple[bool, float]:
        """The Redis store's Lua script, step for step, inside one write transaction."""
        now = time.time()
        with self._write() as db:
            db.execute("DELETE FROM tryit_buckets WHERE expires <= ?", (now,))
            row = db.execute("SELECT tokens, at FROM tryit_buckets WHERE key = ?", (key,)).fetchone()
            tokens, at = row if row else (burst, now)
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            elif force:
                tokens = max(-burst, tokens - cost)
            expires = now + (burst - tokens) / rate + 1
            db.execute(
                "INSERT OR REPLACE INTO tryit_buckets VALUES (?, ?, ?, ?)", (key, tokens, now, expires)
            )
        return allowed, 0.0 if allowed else (cost - tokens) / rate


def _unavailable() -> TryUnavailable:
    return TryUnavailable("Try-it runs are unavailable right now (their store cannot be reached).")


_TABLES = ("tryit_runs", "tryit_in_flight", "tryit_records", "tryit_buckets")


def _is_prepared(db: sqlite3.Connection) -> bool:
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return False
    (found,) = db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?, ?)", _TABLES
    ).fetchone()
    return found == len(_TABLES)


@contextlib.contextmanager
def _held_lock(path: Path, *, timeout_s: float):
    """An exclusive flock on ``path``, waited for up to ``timeout_s`` (then OSError)."""
    with open(path, "a+b") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{path} stayed locked for {timeout_s} s") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
