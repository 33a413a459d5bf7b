"""A Redis broker of a test's own, on a spare loopback port, that the test can stop and start
again without touching the shared Redis the rest of the suite uses."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
