"""kb.tracked_key: a Redis key kept in-process, never stale once a writer's call has returned.

Real Redis (the test run's REDIS_URL, under a key of this test's own); the "other processes"
are other TrackedKey instances, each with its own connections, and a plain redis-py client
writes the way Django's cache does.
"""

import os
import resource
import secrets
import socket
import subprocess
import time

import pytest
import redis

from kb.tracked_key import TrackedKey

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def key():
    name = f"test-tracked-{secrets.token_hex(4)}"
    yield name
    redis.Redis.from_url(URL).delete(name)


def _write(client: redis.Redis, key: str, value) -> None:
    """As kb.page_cache._bump does: the write, then one more round trip."""
    client.set(key, value)
    client.get(key)


def test_every_reader_sees_a_write_on_its_very_next_read(key):
    writer = redis.Redis.from_url(URL)
    readers = [TrackedKey(URL, key) for _ in range(3)]
    assert [reader.get() for reader in readers] == [None] * 3
    # Without the writer's second round trip, about 2 % of these reads were stale.
    for value in range(1, 500):
        _write(writer, key, value)
        assert readers[value % 3].get() == str(value).encode()
    writer.incr(key)
    writer.get(key)
    assert {reader.get() for reader in readers} == {b"500"}
    for reader in readers:
        reader.close()


def test_a_deleted_or_expired_key_is_read_again(key):
    writer = redis.Redis.from_url(URL)
    reader = TrackedKey(URL, key)
    _write(writer, key, 7)
    assert reader.get() == b"7"
    writer.delete(key)
    writer.get(key)
    assert reader.get() is None
    writer.set(key, 8, px=50)
    assert reader.get() == b"8"
    time.sleep(0.1)
    # Redis sends the invalidation of an expired key after the reply of the command that found
    # it expired: a round trip later it is there (the page cache's generation never expires).
    writer.exists(key)
    writer.ping()
    assert reader.get() is None
    reader.close()


def test_a_killed_connection_is_noticed_and_the_value_read_again(key):
    writer = redis.Redis.from_url(URL)
    reader = TrackedKey(URL, key, max_age_s=3600)
    _write(writer, key, 1)
    assert reader.get() == b"1"
    # Redis restarts, or kills our connections: tracking is gone with them.
    reader._reader.send_command("CLIENT", "ID")
    for client_id in (reader._reader.read_response(), reader.subscriber_id):
        writer.execute_command("CLIENT", "KILL", "ID", client_id)
    _write(writer, key, 2)
    assert reader.get() == b"2"
    _write(writer, key, 3)
    assert reader.get() == b"3"
    reader.close()


def test_reconnecting_any_number_of_times_keeps_working(key):
    """Every reconnect makes two new connections; a pool would stop making them after its
    max_connections (100 in redis-py), and the page cache would then be off for good."""
    writer = redis.Redis.from_url(URL)
    reader = TrackedKey(URL, key, max_age_s=3600)
    for value in range(80):
        _write(writer, key, value)
        assert reader.get() == str(value).encode()
        writer.execute_command("CLIENT", "KILL", "ID", reader.subscriber_id)
    _write(writer, key, "last")
    assert reader.get() == b"last"
    reader.close()


def test_file_descriptors_above_1024_are_watched_too(key):
    """select() cannot watch a descriptor >= 1024; a process holding many files must still
    notice a change without asking Redis every time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this process may open only {hard} files")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    writer = redis.Redis.from_url(URL)
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        reader = TrackedKey(URL, key, max_age_s=3600)
        _write(writer, key, 1)
        assert reader.get() == b"1"
        assert reader._reader._sock.fileno() >= 1024
        _write(writer, key, 2)
        assert reader.get() == b"2"
        reader.close()
    finally:
        for fd in held:
            os.close(fd)


def test_the_value_is_read_again_after_max_age_whatever_the_sockets_say(key):
    writer = redis.Redis.from_url(URL)
    reader = TrackedKey(URL, key, max_age_s=0)
    _write(writer, key, 1)
    assert reader.get() == b"1"
    # No tracking at all for this write (CLIENT TRACKING off on the reader): only max_age helps.
    reader._reader.send_command("CLIENT", "TRACKING", "OFF")
    reader._reader.read_response()
    writer.set(key, 2)
    assert reader.get() == b"2"
    reader.close()


def test_a_forked_child_uses_connections_of_its_own(key):
    writer = redis.Redis.from_url(URL)
    reader = TrackedKey(URL, key)
    _write(writer, key, 1)
    assert reader.get() == b"1"
    parent_socket = reader._reader._sock
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked from a master that had read the key
        code = 0
        try:
            _write(redis.Redis.from_url(URL), key, 2)
            code = 0 if reader.get() == b"2" and reader._reader._sock is not parent_socket else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reader.get() == b"2"
    reader.close()


@pytest.fixture
def redis_without_client_command(tmp_path):
    """A Redis of this test's own where CLIENT is disabled, as some ACLs and hosted Redis do."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--rename-command", "CLIENT", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_where_redis_refuses_tracking_every_read_asks_redis(redis_without_client_command, key):
    writer = redis.Redis.from_url(redis_without_client_command)
    reader = TrackedKey(redis_without_client_command, key)
    assert reader.get() is None and not reader.tracking
    for value in range(1, 20):
        writer.set(key, value)  # no read-back needed: nothing is kept
        assert reader.get() == str(value).encode()
    reader.close()
