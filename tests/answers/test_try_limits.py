""" "Edit and run" limits in both try-it stores (the real Redis, bin/run's SQLite file): the
per-client token bucket holds under concurrent takes, says how long to wait, and charges
hostile runs; the client is a salted pseudonym."""

import multiprocessing
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from answers import tryit_limits as limits


@pytest.fixture
def client_id(try_store):
    client = "test-" + secrets.token_hex(8)
    yield client
    limits.bucket_reset(client=client)


def test_forty_concurrent_takes_from_one_client_get_exactly_one_burst(client_id):
    barrier = threading.Barrier(40)

    def take(_):
        barrier.wait()
        return limits.bucket_take(client=client_id)

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(take, range(40)))
    allowed = [a for a in answers if a.allowed]
    refused = [a for a in answers if not a.allowed]
    # A few may refill during the burst (one every 6 s): not in the fraction of a second it takes.
    assert len(allowed) == limits.BURST
    assert all(1 <= a.retry_after_s <= 7 for a in refused)


def _take_in_child(barrier, answers, client: str) -> None:
    barrier.wait()
    answers.put(limits.bucket_take(client=client).allowed)


def test_sixteen_processes_taking_from_one_bucket_get_exactly_one_burst(client_id):
    # As the web server's processes would, with no lock but the store's own.
    fork = multiprocessing.get_context("fork")
    barrier, answers = fork.Barrier(16), fork.Queue()
    children = [fork.Process(target=_take_in_child, args=(barrier, answers, client_id)) for _ in range(16)]
    for child in children:
        child.start()
    allowed = [answers.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert sum(allowed) == limits.BURST


def test_two_clients_have_buckets_of_their_own(client_id):
    other = client_id + "-other"
    try:
        for _ in range(limits.BURST):
            assert limits.bucket_take(client=client_id).allowed
        assert not limits.bucket_take(client=client_id).allowed
        assert limits.bucket_take(client=other).allowed
    finally:
        limits.bucket_reset(client=other)


def test_the_bucket_refills_at_its_rate(client_id, monkeypatch):
    monkeypatch.setattr(limits, "REFILL_PER_S", 20.0)  # one token every 50 ms, for the test's sake
    for _ in range(limits.BURST):
        assert limits.bucket_take(client=client_id).allowed
    assert not limits.bucket_take(client=client_id).allowed
    time.sleep(0.2)
    assert limits.bucket_take(client=client_id).allowed


def test_a_hostile_run_costs_more_and_can_put_the_bucket_in_debt(client_id):
    for _ in range(limits.BURST):
        limits.bucket_take(client=client_id)
    limits.bucket_charge_hostile(client=client_id)
    refused = limits.bucket_take(client=client_id)
    assert not refused.allowed
    # In debt by the hostile cost: the wait is for that many tokens and one more, at 6 s each.
    assert refused.retry_after_s >= (limits.HOSTILE_EXTRA_COST + 1) * 6 - 1


def test_the_client_is_a_daily_pseudonym_and_redis_never_holds_the_address(settings):
    settings.TRYIT_STORE_URL = settings.CACHE_URL
    address = "203.0.113.77"
    one = limits.client_hash(address=address)
    assert one == limits.client_hash(address=address)
    assert one != limits.client_hash(address="203.0.113.78")
    limits.bucket_take(client=one)
    try:
        db = limits.connection().client
        for key in db.scan_iter("tryit:*"):
            assert address.encode() not in key
            if db.type(key) == b"hash":
                assert address.encode() not in b"".join(db.hvals(key))
        assert db.ttl(f"tryit:bucket:{one}") > 0  # it goes away by itself
    finally:
        limits.bucket_reset(client=one)


def test_the_sqlite_store_never_holds_the_address_either(settings, tmp_path):
    settings.TRYIT_STORE_URL = f"sqlite://{tmp_path / 'tryit.sqlite3'}"
    address = "203.0.113.79"
    one = limits.client_hash(address=address)
    assert one == limits.client_hash(address=address)
    assert limits.bucket_take(client=one).allowed
    files = list(tmp_path.glob("tryit.sqlite3*"))  # the database and its write-ahead log
    assert files and all(address.encode() not in path.read_bytes() for path in files)
    assert any(one.encode() in path.read_bytes() for path in files)  # the pseudonym is there
