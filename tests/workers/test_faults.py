"""Infrastructure faults injected into a real worker mid-run, on a Redis and a PostgreSQL of the
test's own: each run still ends `verified` with one result per cell."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.db import connection

from runner.models import Run, RunStatus
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 60, "device": "cpu", "raises": None, "tol": None, "hide": False}
# Fast heartbeats: a restarted database or broker is noticed in about a second.
FAST = {"RUNNER_HEARTBEAT_INTERVAL_S": "1"}


def _cells(sleep_s: float) -> list[dict]:
    codes = [("x = 6 * 7", None), (f"import time\ntime.sleep({sleep_s})\nx", "42"), ("x + 1", "43")]
    return [
        {"index": i, "line": 1 + 5 * i, "code": code, "expected": expected, "options": OPTIONS}
        for i, (code, expected) in enumerate(codes)
    ]


def _start_run(key: str, queue: str, sleep_s: float) -> Run:
    run = Run.objects.create(key=key, cells=_cells(sleep_s), queue=queue)
    execute_run.apply_async((run.pk,), {"attempt": 0}, queue=queue)
    return run


def _sleeping_in_cell_1(run_id: int) -> bool:
    run = Run.objects.filter(pk=run_id).first()
    return run is not None and run.status == RunStatus.RUNNING and run.cells_done == 1


def _finished(run_id: int):
    run = Run.objects.get(pk=run_id)
    return run if run.is_finished else None


def _assert_verified_once(run: Run) -> None:
    assert run.status == RunStatus.VERIFIED, (run.detail, run.fault)
    assert list(run.results.values_list("index", "status")) == [(0, "ran"), (1, "passed"), (2, "passed")]


def _pool_start_timeouts(log: Path) -> int:
    return log.read_text(errors="replace").count("Timed out waiting for UP")


def test_redis_down_mid_run_neither_kills_the_run_nor_the_worker(own_broker, start_worker):
    worker = start_worker("blip", queues="blip", CELERY_BROKER_URL=own_broker.url, **FAST)
    run = _start_run("redis-blip", "blip", sleep_s=22)
    wait_for(lambda: _sleeping_in_cell_1(run.pk), timeout=60)
    own_broker.stop()  # 20 s of the 22 s cell with no broker at all
    time.sleep(20)
    own_broker.start()
    run = wait_for(lambda: _finished(run.pk), timeout=60)
    _assert_verified_once(run)
    assert run.attempts == 1 and not run.fault  # the sandbox kept running through the outage
    # The worker reconnected and takes new work.
    after = _start_run("after-blip", "blip", sleep_s=0)
    after = wait_for(lambda: _finished(after.pk), timeout=90)
    _assert_verified_once(after)
    assert worker.process.poll() is None
    log = worker.log.read_text(errors="replace")
    assert "Terminating it instead" not in log and "Unrecoverable error" not in log
    assert _pool_start_timeouts(worker.log) <= 2


def test_postgresql_restarted_mid_run_the_write_is_retried_on_a_new_connection(own_database, start_worker):
    worker = start_worker("pgrestart", queues="pgrestart", **own_database.env, **FAST)
    run = _start_run("pg-restart", "pgrestart", sleep_s=5)
    wait_for(lambda: _sleeping_in_cell_1(run.pk), timeout=60)
    own_database.stop()  # every connection of the worker dies; the cell ends while it is down
    time.sleep(10)
    own_database.start()
    connection.close()  # this test's own connection died with the server too
    run = wait_for(lambda: _finished(run.pk), timeout=120)
    _assert_verified_once(run)
    assert run.attempts == 1  # the cell's result was written once the database was back
    assert "database unavailable" in worker.log.read_text(errors="replace")  # it was retried
    assert _pool_start_timeouts(worker.log) <= 2


def _children(pids: list[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in pids and fields[0] != "Z":
                found.append(int(entry))
    return found


def _pool_processes(worker) -> list[int]:
    return _children([worker.process.pid])


def _fork_servers(worker) -> list[int]:
    """The pool processes' fork servers (not their templates or sandboxes, which run the same
    command line one level further down)."""
    servers = []
    for pid in _children(_pool_processes(worker)):
        try:
            if b"runner.engine.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                servers.append(pid)
        except OSError:
            continue
    return servers


def test_a_fork_server_killed_mid_run_queues_the_run_again_instead_of_failing_it(start_worker):
    worker = start_worker("fsk", queues="fsk", **FAST)
    run = _start_run("fork-server-killed", "fsk", sleep_s=6)
    wait_for(lambda: _sleeping_in_cell_1(run.pk), timeout=60)
    servers = _fork_servers(worker)
    assert servers
    for pid in servers:
        os.kill(pid, signal.SIGKILL)
    run = wait_for(lambda: _finished(run.pk), timeout=120)
    _assert_verified_once(run)
    assert run.attempts == 2 and "fork server died" in run.fault  # retried, and staff see why
    assert not any(r.error and "fork server" in r.error for r in run.results.all())
    assert _pool_start_timeouts(worker.log) <= 2


def test_a_killed_pool_process_is_replaced_without_a_start_storm(start_worker):
    """A pool start that loaded the fork servers took longer than Celery's 4 s alive
    timeout, so the replacement of a killed pool process was killed in turn, again and again."""
    worker = start_worker("storm", queues="storm", **FAST)
    servers = wait_for(lambda: len(_fork_servers(worker)) == 2 and _fork_servers(worker), timeout=60)
    (pool_process,) = _pool_processes(worker)
    os.kill(pool_process, signal.SIGKILL)
    # Its fork servers die with it (PR_SET_PDEATHSIG), and a new pool process takes jobs.
    wait_for(lambda: not any(_alive(pid) for pid in servers), timeout=20)
    run = _start_run("after-pool-kill", "storm", sleep_s=0)
    run = wait_for(lambda: _finished(run.pk), timeout=120)
    _assert_verified_once(run)
    time.sleep(5)
    assert len(_fork_servers(worker)) == 2 and not set(_fork_servers(worker)) & set(servers)
    assert _pool_start_timeouts(worker.log) <= 1


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def full_media_disk(tmp_path):
    """A real, full file system for the worker's media (a 512 KiB tmpfs, filled up)."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "media"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    filler = mount / "filler"
    try:
        with filler.open("wb") as handle:
            handle.write(b"\0" * 1024 * 1024)
    except OSError:
        pass  # full
    try:
        yield mount, filler
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_media_disk_is_an_infrastructure_fault_never_a_cell_result(full_media_disk, start_worker):
    from runner.attempts import MAX_ATTEMPTS

    mount, filler = full_media_disk
    # A queue of its own: the suite's shared cpu worker (other MEDIA_ROOT) must not take it.
    start_worker("enospc", queues="enospc", MEDIA_ROOT=str(mount), **FAST)
    plot = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.title('line')"
    cells = [{"index": 0, "line": 1, "code": plot, "expected": None, "options": OPTIONS}]

    def request() -> Run:
        run = Run.objects.create(key=f"enospc-{time.monotonic_ns()}", cells=cells, queue="enospc")
        execute_run.apply_async((run.pk,), {"attempt": 0}, queue="enospc")
        return run

    run = request()
    run = wait_for(lambda: _finished(run.pk), timeout=120)
    assert (run.status, run.get_status_display()) == (RunStatus.FAULT, "Infrastructure fault")
    assert run.attempts == MAX_ATTEMPTS and "No space left on device" in run.fault
    assert not run.results.exists()  # no cell was recorded as failing for it

    filler.unlink()  # space again: the next run of the same cells verifies
    again = request()
    again = wait_for(lambda: _finished(again.pk), timeout=120)
    assert again.status == RunStatus.VERIFIED, (again.detail, again.fault)
    assert again.results.get().figures.count() == 1
