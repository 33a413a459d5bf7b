"""Fixtures for demo requests: a real SMTP server and a second Redis broker on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from email import message_from_bytes, policy

import pytest
import redis
from django.core.cache import cache

from demo_requests.spam import time_token_issue


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The rate limit lives in the shared cache (Redis db 14 under bin/test): start each test clean.
    cache.clear()
    yield
    cache.clear()


def form_data(**overrides) -> dict:
    """A valid demo request as a browser posts it, shown to the visitor 10 seconds ago."""
    data = {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "company": "Analytical Engines Ltd",
        "role": "Head of data",
        "message": "We would like to see GPU runs.",
        "consent": "on",
        "source": "",
        "started": time_token_issue(issued_at=time.time() - 10),
        "website": "",
    }
    data.update(overrides)
    return data


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; the inbox has a `port`."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


class RedisServer:
    """A redis-server of the test's own on a spare loopback port, so it can be stopped and
    started again without touching the shared Redis the rest of the suite uses."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_broker(settings):
    """A broker of this test's own; the app in this process and any worker started from
    tests.workers.conftest.WorkerProcess use it."""
    from config.celery import app

    server = RedisServer()
    server.start()
    previous_env = os.environ.get("CELERY_BROKER_URL")
    previous = app.conf.broker_url

    def use(url, env_url):
        # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
        if env_url is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env_url
        app.conf.broker_url = url
        # Drop the pooled connections to the previous broker (Celery keeps them per app).
        app._pool = None
        app.amqp._producer_pool = None

    settings.CELERY_BROKER_URL = server.url
    use(server.url, server.url)
    try:
        yield server
    finally:
        use(previous, previous_env)
        server.stop()
