"""The try-it store's contract (runner/tryit_store.py), run on both implementations: the real
Redis and bin/run's SQLite file. Processes race for the global cap as the web server's and the
workers' processes would; a run is claimed once; results, records and slots expire."""

import json
import multiprocessing
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from runner.tryit_sqlite import SqliteTryStore
from runner.tryit_store import TryBusy, TryUnavailable, store
from tests.support.workers import wait_for

JOB = json.dumps({"cells": [], "files": {}, "limits": {}})


def token() -> str:
    return secrets.token_urlsafe(24)


def _open_in_child(barrier, answers, name: str) -> None:
    """One process's attempt at a slot, started at the same moment as the others."""
    barrier.wait()
    try:
        store().open(name, deadline=time.time() + 60, job=JOB)
        answers.put(("opened", name))
    except TryBusy as busy:
        answers.put(("busy", busy.retry_after_s))


def test_processes_racing_for_the_cap_get_exactly_cap_slots(try_store, settings):
    settings.TRYIT_MAX_IN_FLIGHT = 3
    processes = 12
    fork = multiprocessing.get_context("fork")
    barrier, answers = fork.Barrier(processes), fork.Queue()
    children = [
        fork.Process(target=_open_in_child, args=(barrier, answers, token())) for _ in range(processes)
    ]
    for child in children:
        child.start()
    outcomes = [answers.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    opened = [name for kind, name in outcomes if kind == "opened"]
    waits = [wait for kind, wait in outcomes if kind == "busy"]
    assert len(opened) == 3 and len(waits) == 9
    assert all(1 <= wait <= 5 for wait in waits)
    assert try_store.in_flight() == 3
    assert {try_store.read(name)["state"] for name in opened} == {"queued"}


def test_threads_racing_for_the_cap_get_exactly_cap_slots(try_store, settings):
    settings.TRYIT_MAX_IN_FLIGHT = 4
    barrier = threading.Barrier(16)

    def open_one(_):
        barrier.wait()
        try:
            try_store.open(token(), deadline=time.time() + 60, job=JOB)
            return True
        except TryBusy:
            return False

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(open_one, range(16))) == 4


def test_a_run_is_claimed_exactly_once(try_store):
    name = token()
    try_store.open(name, deadline=time.time() + 60, job=JOB)
    assert try_store.read(name)["state"] == "queued"
    barrier = threading.Barrier(8)

    def claim(_):
        barrier.wait()
        return try_store.claim(name)

    with ThreadPoolExecutor(8) as pool:
        jobs = [job for job in pool.map(claim, range(8)) if job is not None]
    assert jobs == [json.loads(JOB)]
    assert try_store.read(name)["state"] == "running"
    assert try_store.claim(name) is None
    assert try_store.claim(token()) is None  # never opened


def test_progress_then_the_result_which_frees_the_slot(try_store):
    name = token()
    try_store.open(name, deadline=time.time() + 60, job=JOB)
    assert try_store.in_flight() == 1
    try_store.claim(name)
    try_store.set_progress(name, progress={"done": 1, "total": 3})
    assert try_store.read(name)["progress"] == {"done": 1, "total": 3}
    try_store.put_result(name, {"state": "done", "status": "ran", "stdout": "42\n"})
    record = try_store.read(name)
    assert record["state"] == "done" and record["result"]["stdout"] == "42\n"
    assert try_store.in_flight() == 0


def test_a_result_for_a_run_never_opened_is_kept_and_read(try_store):
    name = token()  # the GPU refusal: a result with no run behind it
    try_store.put_result(name, {"state": "done", "status": "refused"})
    assert try_store.read(name)["result"]["status"] == "refused"
    assert try_store.read(token()) is None


def test_a_slot_past_its_deadline_is_given_back_to_the_next_start(try_store, settings):
    settings.TRYIT_MAX_IN_FLIGHT = 1
    try_store.open(token(), deadline=time.time() + 0.5, job=JOB)
    with pytest.raises(TryBusy) as busy:
        try_store.open(token(), deadline=time.time() + 60, job=JOB)
    assert busy.value.retry_after_s == 1
    time.sleep(0.6)
    assert try_store.in_flight() == 0
    try_store.open(token(), deadline=time.time() + 60, job=JOB)
    assert try_store.in_flight() == 1


def test_discard_and_release_give_the_slot_back(try_store):
    kept, dropped = token(), token()
    for name in (kept, dropped):
        try_store.open(name, deadline=time.time() + 60, job=JOB)
    try_store.release(kept)
    try_store.discard(dropped)
    assert try_store.in_flight() == 0
    assert try_store.read(kept)["state"] == "queued"
    assert try_store.read(dropped) is None


def test_a_result_expires_after_its_ttl(try_store, settings):
    settings.TRYIT_RESULT_TTL_S = 1
    name = token()
    try_store.put_result(name, {"state": "done", "status": "ran"})
    assert try_store.read(name) is not None
    wait_for(lambda: try_store.read(name) is None, timeout=3, interval=0.05)


def test_records_expire_and_nx_sets_only_what_is_absent(try_store):
    key = f"tryit:test:{token()}"
    assert try_store.set(key, json.dumps({"a": 1}), ex=1)
    assert json.loads(try_store.get(key)) == {"a": 1}
    assert not try_store.set(key, "other", ex=1, nx=True)
    assert try_store.get(key) == b'{"a": 1}'
    wait_for(lambda: try_store.get(key) is None, timeout=3, interval=0.05)
    assert try_store.set(key, "again", ex=5, nx=True)
    assert try_store.get(key) == b"again"
    try_store.delete(key)
    assert try_store.get(key) is None


def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(settings, tmp_path):
    (tmp_path / "file").write_text("")
    settings.TRYIT_STORE_URL = f"sqlite://{tmp_path / 'file' / 'tryit.sqlite3'}"  # under a file
    with pytest.raises(TryUnavailable, match="unavailable"):
        store().read(token())


def _first_use_in_child(barrier, answers, url: str) -> None:
    barrier.wait()
    try:
        answers.put(SqliteTryStore(url).in_flight())
    except TryUnavailable as unavailable:
        answers.put(str(unavailable))


def test_a_new_sqlite_file_first_used_by_many_processes_at_once_serves_them_all(tmp_path):
    """bin/run's web server and workers all start on a file that does not exist yet: each
    switching it to WAL at once made some of them answer "database is locked" at once."""
    fork = multiprocessing.get_context("fork")
    processes = 16
    for attempt in range(20):
        url = f"sqlite://{tmp_path / f'tryit-{attempt}.sqlite3'}"
        barrier, answers = fork.Barrier(processes), fork.Queue()
        children = [
            fork.Process(target=_first_use_in_child, args=(barrier, answers, url)) for _ in range(processes)
        ]
        for child in children:
            child.start()
        outcomes = [answers.get(timeout=30) for _ in children]
        for child in children:
            child.join(timeout=30)
        assert outcomes == [0] * processes, f"attempt {attempt}: {outcomes}"
