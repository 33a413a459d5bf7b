"""Starting the servers a bench measures (Celery workers, mostly) and stopping them cleanly.

Each starts in a session of its own with its output in a log file: stop_session then ends it
and everything it started (pool processes, fork servers, cells), even when the bench fails
half-way, and the log says why one did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def celery_worker_command(*args: str) -> list[str]:
    """`celery -A config worker ARGS` with this interpreter (the project's venv)."""
    return [sys.executable, "-m", "celery", "-A", "config", "worker", *args]


def start_logged(command: list[str], *, log: Path, env: dict | None = None, cwd: Path = ROOT,
                 stdin=None) -> subprocess.Popen:  # fmt: skip
    """Start command in a new session, its stdout and stderr written to log."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdin=stdin, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def wait_for_log(process: subprocess.Popen, log: Path, text: str = "ready.", *, timeout: float = 120,
                 poll: float = 0.1, what: str = "the worker") -> float:  # fmt: skip
    """Seconds until text appears in the log; SystemExit with the log's tail when the process
    exits first or timeout passes (a Celery worker writes "ready." once its pool is up)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if text in log.read_text(errors="replace"):
            return time.monotonic() - started
        if process.poll() is not None:
            break
        time.sleep(poll)
    raise SystemExit(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")


def stop_session(process: subprocess.Popen, *, timeout: float = 30, whole_session: bool = True) -> None:
    """SIGTERM, then SIGKILL after timeout; then SIGKILL anything left in the process's session
    (a fork server whose parent died first). `whole_session=False` sends the SIGTERM to the
    process alone, for a server that stops its own children on a warm shutdown (gunicorn's
    master, a Celery worker's main process)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if whole_session:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
