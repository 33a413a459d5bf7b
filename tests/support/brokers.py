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


def use_broker(url: str | None, env_url: str | None = None) -> None:
    """Point this process's Celery app (and any worker started from now on, through the
    environment) at the broker at `url`, with that broker's options (config/brokers.py): the
    queue type a publisher declares must be the one the worker declares."""
    from django.conf import settings

    from config.brokers import celery_broker_options
    from config.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    if env_url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = env_url
    options = celery_broker_options(
        url,
        visibility_timeout_s=settings.CELERY_VISIBILITY_TIMEOUT_S,
        filesystem_dir=settings.VAR_DIR / "broker",
    )
    app.conf.update(broker_url=url, **options)
    settings.CELERY_BROKER_URL = url
    # Drop what Celery keeps of the previous broker: pooled connections and producers, and
    # its queue declarations (with the previous queue type), which the router and the task
    # sender hold too.
    for cached in ("queues", "default_queue", "router", "send_task_message"):
        app.amqp.__dict__.pop(cached, None)
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_in_use(url: str):
    from config.celery import app

    previous, previous_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    use_broker(url, url)
    try:
        yield
    finally:
        use_broker(previous, previous_env)


@pytest.fixture
def own_broker(settings):
    """A broker of this test's own; the app in this process and any worker started from
    tests.workers.conftest.WorkerProcess use it."""
    server = RedisServer()
    server.start()
    try:
        with broker_in_use(server.url):
            yield server
    finally:
        server.stop()


class RedisUnderTest:
    """The reliability tests' view of a broker: where it is and what it holds for a queue."""

    kind = "redis"

    def __init__(self, server: RedisServer):
        self.server = server
        self.url = server.url
        self.client = redis.Redis(port=server.port)

    def messages(self, queue: str) -> tuple[int, int]:
        """(ready, unacknowledged): kombu's list for the queue, and its unacked hash."""
        return self.client.llen(queue), self.client.hlen("unacked")

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


class RabbitUnderTest:
    kind = "rabbitmq"

    def __init__(self, place):  # a tests.support.rabbitmq.Vhost or PrivateNode
        self.place = place
        self.url = place.url

    def messages(self, queue: str) -> tuple[int, int]:
        return self.place.messages(queue)

    def stop(self) -> None:
        self.place.stop()

    def start(self) -> None:
        self.place.start()


BROKERS = ["redis", "rabbitmq"]


@pytest.fixture(scope="module")
def module_vhost(request):
    """A vhost of this test module's own on the shared RabbitMQ node."""
    from tests.support.rabbitmq import Vhost

    vhost = Vhost(request.module.__name__.rsplit(".", 1)[-1].replace("_", "-"))
    vhost.create()
    yield vhost
    vhost.delete()


@pytest.fixture(scope="session")
def private_rabbit():
    """A RabbitMQ node of the session's own (started once, ~6-9 s), which outage tests stop."""
    from tests.support.rabbitmq import PrivateNode

    node = PrivateNode()
    node.start()
    yield node
    node.remove()


@pytest.fixture(params=BROKERS)
def each_broker(request, settings):
    """Each reliability test once on Redis (a server of its own) and once on RabbitMQ (its
    module's vhost on the shared node); this process and the workers it starts use it."""
    server = None
    if request.param == "redis":
        server = RedisServer()
        server.start()
        broker = RedisUnderTest(server)
    else:
        broker = RabbitUnderTest(request.getfixturevalue("module_vhost"))
    try:
        with broker_in_use(broker.url):
            yield broker
    finally:
        if server is not None:
            server.stop()


@pytest.fixture(params=BROKERS)
def restartable_broker(request, settings):
    """Like each_broker, on a broker the test may stop and start: a Redis of its own, or the
    session's private RabbitMQ node (never the shared one)."""
    server = None
    if request.param == "redis":
        server = RedisServer()
        server.start()
        broker = RedisUnderTest(server)
    else:
        node = request.getfixturevalue("private_rabbit")
        if node.process is None:
            node.start()
        broker = RabbitUnderTest(node)
    try:
        with broker_in_use(broker.url):
            yield broker
    finally:
        if server is not None:
            server.stop()
        elif broker.place.process is None:
            broker.place.start()  # the next test finds it up
