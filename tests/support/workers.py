"""Fixtures for real Celery worker processes on the real Redis, writing to the test database,
and a real SMTP server they send to. Loaded for the whole suite from tests/conftest.py."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# The workers' cells may read this host directory (read-only): tests put data there.
SANDBOX_DATA_DIR = Path("/srv/kb-test")


def _worker_env(**extra) -> dict:
    # Before the worker starts: a sandbox is built with the data directories that exist then.
    SANDBOX_DATA_DIR.mkdir(parents=True, exist_ok=True)
    SANDBOX_DATA_DIR.chmod(0o755)
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="1",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        RUNNER_SANDBOX_DATA_DIRS=str(SANDBOX_DATA_DIR),
    )
    env.update(extra)  # a test may override any of the above
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


class WorkerProcess:
    def __init__(self, name: str, queues: str = "cpu", **env):
        self.name = name
        self.log = Path(settings.MEDIA_ROOT).parent / f"worker-{name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--hostname",
            f"{name}@test",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_worker_env(**env),
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(
            f"worker {self.name} did not start:\n{self.log.read_text(errors='replace')[-3000:]}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (its session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def _smtp_env(smtp_server) -> dict:
    port = smtp_server.port
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
    }


@pytest.fixture(scope="session")
def cpu_worker(django_db_setup, django_db_blocker, broker, smtp_server):
    worker = WorkerProcess("cpu", **_smtp_env(smtp_server))
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def start_worker(django_db_setup, broker, smtp_server):
    started = []

    def start(name: str, **env) -> WorkerProcess:
        worker = WorkerProcess(name, **{**_smtp_env(smtp_server), **env})
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class Inbox:
    """Messages received by the loopback SMTP server; `port` is where it listens."""

    def __init__(self, port: int):
        self.port = port
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that every test worker sends to."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_inbox(smtp_server):
    """The loopback SMTP server's inbox, emptied for this test."""
    smtp_server.messages.clear()
    return smtp_server


@pytest.fixture(autouse=True)
def _drain_runs_before_flush(request):
    """Let the workers finish this test's runs before the database is flushed for the next one,
    so a run of one test never writes into (or deadlocks with) the next test's tables."""
    if "cpu_worker" not in request.fixturenames and "start_worker" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    from runner.models import Run

    wait_for(lambda: not Run.objects.filter(status__in=["queued", "running"]).exists(), timeout=120)
