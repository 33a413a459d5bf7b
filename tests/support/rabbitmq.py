"""Real RabbitMQ for the tests: a vhost of a test module's own on the shared node (so runs of
different modules never mix), or a private node on spare loopback ports that a test may stop
and start again without touching the shared one."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SHARED_HOST, SHARED_PORT = "127.0.0.1", 5672
# Debian's /usr/sbin/rabbitmq-server and rabbitmqctl switch to the rabbitmq user (and its
# cookie); a private node runs the scripts themselves, as the test's user, with a HOME (and so
# an Erlang cookie) of its own.
SBIN = Path("/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin")


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def require_shared_node() -> None:
    if not _answers(SHARED_HOST, SHARED_PORT):
        raise RuntimeError(
            f"RabbitMQ is not answering on {SHARED_HOST}:{SHARED_PORT}: bin/ensure-services starts it"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Vhost:
    """A vhost of its own on the shared node, for the guest user; deleted with its queues."""

    def __init__(self, label: str):
        require_shared_node()
        self.name = f"kb-test-{label}-{uuid.uuid4().hex[:8]}"
        self.url = f"amqp://guest:guest@{SHARED_HOST}:{SHARED_PORT}/{self.name}"

    def ctl(self, *args: str) -> str:
        return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True).stdout

    def create(self) -> None:
        self.ctl("add_vhost", self.name)
        self.ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

    def delete(self) -> None:
        self.ctl("delete_vhost", self.name)

    def close_connections(self) -> None:
        """Close every client connection to this vhost (and only this vhost), as a network
        blip would."""
        self.ctl("close_all_connections", "-p", self.name, "a test drops the connection")

    def messages(self, queue: str) -> tuple[int, int]:
        """(ready, unacknowledged) for `queue`; (0, 0) when it was never declared."""
        return _messages(
            self.ctl("list_queues", "-p", self.name, "name", "messages_ready", "messages_unacknowledged"),
            queue,
        )


def _messages(listing: str, queue: str) -> tuple[int, int]:
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == queue:
            return int(fields[1]), int(fields[2])
    return 0, 0


class PrivateNode:
    """A rabbitmq-server of its own: its own ports, Erlang cookie, data and logs under a
    temporary directory kept across stop() and start(), so durable queues and their messages
    outlive a restart as they do in production."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="kb-rabbit-"))
        self.port = _free_port()
        self.name = f"kbtest{os.getpid()}{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.env = dict(
            os.environ,
            HOME=str(self.base),
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(_free_port()),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base / "no-config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
        )
        self.process = None

    def ctl(self, *args: str, timeout: float = 30) -> str:
        command = [str(SBIN / "rabbitmqctl"), "-q", "-n", self.name, *args]
        return subprocess.run(
            command, env=self.env, check=True, capture_output=True, text=True, timeout=timeout
        ).stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(SBIN / "rabbitmq-server")],
            env=self.env,
            stdout=(self.base / "server.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"rabbitmq-server exited:\n{(self.base / 'server.out').read_text()[-3000:]}"
                )
            if _answers("127.0.0.1", self.port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        # epmd (Erlang's port mapper, shared by every node) stays; the node's name is released.

    def messages(self, queue: str) -> tuple[int, int]:
        return _messages(self.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged"), queue)

    def block_publishers(self) -> None:
        """A disk alarm: RabbitMQ stops reading from every connection that publishes."""
        self.ctl("set_disk_free_limit", "100000GB")

    def unblock_publishers(self) -> None:
        self.ctl("set_disk_free_limit", "50MB")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
