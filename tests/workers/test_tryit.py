"""Try-it runs end to end: runner.tryit's API, a real worker on the `try` queue, real Redis."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from runner import tryit
from runner.tryit_redis import IN_FLIGHT_KEY
from runner.tryit_store import TryBusy, store
from tests.support.workers import wait_for

pytestmark = [pytest.mark.slow]


def finished(token: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (r := tryit.read_try_run(token)) and r["state"] == "done" and r, timeout=timeout)


def cell(code: str, **options) -> dict:
    return {"code": code, "options": options}


def published(code: str, index: int = 0) -> dict:
    return {"index": index, "line": 1, "code": code, "expected": None, "options": {"timeout": 30.0}}


def test_an_edited_cell_runs_after_the_published_ones_and_sees_their_state(try_worker):
    token = tryit.start_try_run(prefix=[published("x = 41")], cell=cell("print(x + 1)\nx + 1"))
    assert len(token) >= 32
    result = finished(token)
    assert result["status"] == "ran", result
    assert result["prefix"] == "ran"
    assert result["stdout"] == "42\n42"  # what it printed, then its value, as the page shows
    assert result["detail"] == ""


def test_an_exception_comes_back_with_its_traceback(try_worker):
    result = finished(tryit.start_try_run(prefix=[], cell=cell("def f():\n    1 / 0\nf()")))
    assert result["status"] == "error"
    assert result["error"] == "ZeroDivisionError: division by zero"
    assert "in f" in result["traceback"]
    assert "exception" in result["detail"]


def test_a_figure_comes_back_as_a_png(try_worker):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('line')\nplt.show()"
    result = finished(tryit.start_try_run(prefix=[], cell=cell(code)))
    assert result["status"] == "ran", result
    assert len(result["figures"]) == 1
    assert result["figures"][0]["png_base64"].startswith("iVBORw0KGgo")  # b"\x89PNG\r\n\x1a\n"


def test_a_failing_published_cell_stops_the_run_with_a_clear_status(try_worker):
    result = finished(
        tryit.start_try_run(prefix=[published("raise SystemError('data gone')")], cell=cell("1"))
    )
    assert result["status"] == "prefix_failed"
    assert result["prefix"] == "failed"
    assert "Published cell 1 failed" in result["detail"]


def test_a_busy_loop_ends_in_a_timeout_within_the_try_limit(try_worker):
    started = time.monotonic()
    result = finished(tryit.start_try_run(prefix=[], cell=cell("while True:\n    pass")), timeout=60)
    assert result["status"] == "timeout"
    assert "time limit" in result["detail"]
    assert time.monotonic() - started < settings.TRYIT_LIMITS["reader"]["cell_timeout_s"] + 15


def test_a_file_written_by_one_reader_is_not_seen_by_the_next(try_worker):
    first = finished(
        tryit.start_try_run(prefix=[], cell=cell("open('/tmp/x', 'w').write('secret')\nsecret = 1"))
    )
    assert first["status"] == "ran", first
    second = finished(
        tryit.start_try_run(
            prefix=[], cell=cell("import os\nprint(os.path.exists('/tmp/x'), 'secret' in globals())")
        )
    )
    assert second["stdout"] == "False False\n"


def test_a_gpu_cell_is_refused_where_try_runs_have_no_gpu(settings):
    settings.TRYIT_ALLOW_GPU = False
    result = tryit.read_try_run(tryit.start_try_run(prefix=[], cell=cell("1", device="cuda")))
    assert result["status"] == "refused"
    assert "GPU" in result["detail"]


def test_an_unknown_token_reads_as_none():
    assert tryit.read_try_run("no-such-token") is None
    assert tryit.read_try_run("x" * 500) is None


def test_results_expire(try_worker, settings):
    settings.TRYIT_RESULT_TTL_S = 1
    token = tryit.start_try_run(prefix=[], cell=cell("1"))
    # The worker's own TTL setting applies to what it stores: shorten the key's life here.
    finished(token)
    store().client.expire(f"tryit:run:{token}", 1)
    wait_for(lambda: tryit.read_try_run(token) is None, timeout=5)


def test_a_run_nobody_finishes_reads_as_lost_after_its_deadline_and_frees_its_slot(settings, broker):
    settings.TRYIT_QUEUE = "try-nobody"  # no worker consumes it
    settings.TRYIT_LOST_GRACE_S = -20 - settings.TRYIT_LIMITS["reader"]["cell_timeout_s"] + 1
    token = tryit.start_try_run(prefix=[], cell=cell("1"))
    assert tryit.read_try_run(token)["state"] == "queued"
    assert store().client.zscore(IN_FLIGHT_KEY, token) is not None
    result = wait_for(lambda: (r := tryit.read_try_run(token)) and r["state"] == "done" and r, timeout=5)
    assert result["status"] == "lost"
    assert "worker" in result["detail"]
    assert store().client.zscore(IN_FLIGHT_KEY, token) is None
    broker.delete("try-nobody")


def test_the_global_cap_holds_under_concurrent_starts(settings, broker):
    settings.TRYIT_MAX_IN_FLIGHT = 3
    settings.TRYIT_QUEUE = "try-nobody"
    store().client.delete(IN_FLIGHT_KEY)

    def start(_):
        try:
            return tryit.start_try_run(prefix=[], cell=cell("1"))
        except TryBusy as busy:
            return busy

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(start, range(12)))
    tokens = [o for o in outcomes if isinstance(o, str)]
    busy = [o for o in outcomes if isinstance(o, TryBusy)]
    assert len(tokens) == 3
    assert len(busy) == 9
    assert all(1 <= b.retry_after_s <= 5 for b in busy)
    for token in tokens:
        store().discard(token)
    store().client.delete(IN_FLIGHT_KEY)
    broker.delete("try-nobody")


def test_progress_counts_the_published_cells_while_they_run(try_worker):
    # A prefix no checkpoint holds yet: it runs now, and its cells are counted as they finish.
    prefix = [
        published(f"import time\ntime.sleep(0.5)\nstamp = {time.time_ns()}", 0),
        published("time.sleep(1.5)\ny = 2", 1),
    ]
    token = tryit.start_try_run(prefix=prefix, cell=cell("y"))
    seen = wait_for(lambda: (r := tryit.read_try_run(token))["progress"]["done"] == 1 and r["progress"], 30)
    assert seen == {"done": 1, "total": 3}
    result = finished(token)
    assert (result["status"], result["stdout"]) == ("ran", "2")


def test_the_published_cells_are_kept_warm_for_the_next_readers(try_worker):
    prefix = [published(f"import time\ntime.sleep(1)\nx = 41\nstamp = {time.time_ns()}")]
    results = [finished(tryit.start_try_run(prefix=prefix, cell=cell("print(x + 1)"))) for _ in range(4)]
    assert [(r["status"], r["stdout"]) for r in results] == [("ran", "42\n")] * 4
    assert results[0]["prefix"] == "ran" and results[0]["checkpoint"] == "new"
    # Each pool process of the worker keeps its own: by the fourth run one of them was warm.
    assert "warm" in [r["prefix"] for r in results[1:]]


def test_staff_runs_get_the_longer_time_limit(try_worker):
    code = "import time\ntime.sleep(11)\nprint('slept')"
    limits = settings.TRYIT_LIMITS
    assert limits["reader"]["cell_timeout_s"] < 11 < limits["staff"]["cell_timeout_s"]
    result = finished(tryit.start_try_run(prefix=[], cell=cell(code), profile="staff"), timeout=60)
    assert (result["status"], result["stdout"]) == ("ran", "slept\n")


def test_bad_input_is_refused_with_a_sentence_and_takes_no_slot(settings):
    before = store().in_flight()
    with pytest.raises(ValueError, match="at most 128 KiB"):
        tryit.start_try_run(prefix=[], cell=cell("x = 1\n" * 30_000))
    with pytest.raises(ValueError, match="NUL"):
        tryit.start_try_run(prefix=[], cell=cell("1\x00"))
    with pytest.raises(ValueError, match="profile"):
        tryit.start_try_run(prefix=[], cell=cell("1"), profile="root")
    assert store().in_flight() == before


def test_an_unreachable_store_is_unavailable_at_once(settings):
    settings.TRYIT_STORE_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    with pytest.raises(tryit.TryUnavailable, match="unavailable"):
        tryit.start_try_run(prefix=[], cell=cell("1"))
    with pytest.raises(tryit.TryUnavailable):
        tryit.read_try_run("some-token")
    assert time.monotonic() - started < 10


def test_a_broker_that_is_down_is_unavailable_and_gives_the_slot_back(own_broker):
    own_broker.stop()
    before = store().in_flight()
    with pytest.raises(tryit.TryUnavailable, match="queue"):
        tryit.start_try_run(prefix=[], cell=cell("1"))
    assert store().in_flight() == before


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (the fork servers are started from a thread)."""
    children = []
    for thread in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{thread}/children") as listing:
            children += [int(child) for child in listing.read().split()]
    return children


def _fork_servers_under(pid: int) -> int:
    count = 0
    for child in _children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                is_server = b"runner.engine.forkserver" in cmdline.read()
        except FileNotFoundError:  # a process that ended meanwhile
            continue
        count += is_server
    return count


def test_the_try_worker_keeps_one_fork_server_per_pool_process(try_worker):
    # The second fork server serves only the second run of a new revision; a worker that takes
    # nothing but try-it runs would hold a preloaded interpreter for nothing.
    assert finished(tryit.start_try_run(prefix=[], cell=cell("print(1)")))["status"] == "ran"
    pool_processes = _children(try_worker.process.pid)
    assert pool_processes, "the worker has no pool process"
    time.sleep(10)  # the old warm start began the second server right after the first one
    assert [_fork_servers_under(pid) for pid in pool_processes] == [1] * len(pool_processes)
