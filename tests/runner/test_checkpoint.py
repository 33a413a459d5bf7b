"""Try-it checkpoints in the fork server: the published cells run once, each reader run forks
from their state into namespaces of its own, and what one reader does is invisible to the next.
Real sandboxes (fresh root, namespaces, seccomp, the sandbox uid); no worker needed."""

import os
import signal
import threading
import time

import pytest

from runner.engine.protocol import CellStatus
from tests.runner.conftest import make_cells
from tests.runner.test_hostile import _processes_with

ON = {"max": 4, "budget_bytes": 2 * 1024**3}
PREFIX = (
    "import time\ntime.sleep(1)\nbase = 21\nopen('from_prefix.txt', 'w').write('prefix file')\n"
    "print('published cells ran')"
)


def try_run(server, prefix, edited, checkpoint=ON, **kwargs):
    cells = make_cells(*prefix, edited)
    results, info = server.run_answer(cells, checkpoint=checkpoint, **kwargs).wait()
    return results, info


@pytest.fixture
def fresh_prefix():
    # A prefix no other test built a checkpoint for (the session's server keeps them).
    return (f"{PREFIX}\nmarker = {time.monotonic_ns()}",)


def test_the_prefix_runs_once_and_each_run_forks_from_its_state(fresh_server, fresh_prefix):
    first, info = try_run(fresh_server, fresh_prefix, "print(base * 2, open('from_prefix.txt').read())")
    assert info.sandbox["checkpoint"] == "new"
    assert [r.status for r in first] == [CellStatus.RAN, CellStatus.RAN]
    assert first[0].output == "published cells ran\n"
    assert first[1].output == "42 prefix file\n"
    again, info = try_run(fresh_server, fresh_prefix, "base = 0\nprint(base)")
    assert info.sandbox["checkpoint"] == "warm"
    assert again[0].output == "published cells ran\n" and again[1].output == "0\n"
    # The first reader's change to the state is theirs alone: the checkpoint still holds 21.
    third, info = try_run(fresh_server, fresh_prefix, "print(base)")
    assert info.sandbox["checkpoint"] == "warm" and third[1].output == "21\n"
    # Between runs the next reader is forked and checked ahead of time, off the run's path.
    assert info.sandbox["reader_prepared"] is True


ESPIONAGE = """
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
print("tmp", sorted(os.listdir("/tmp")), sorted(os.listdir(".")))
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("uid", os.getuid(), "caps", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
print("unshare", libc.unshare(0x10000000), "mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
try:
    socket.create_connection(("127.0.0.1", 47011), timeout=1)
    print("connected to the other reader")
except OSError as exc:
    print("no connection:", type(exc).__name__)
"""


def test_one_reader_sees_nothing_of_another(fresh_server, fresh_prefix):
    leave_things = (
        "import os, socket, subprocess\n"
        "open('/tmp/reader-a-secret', 'w').write('a'); open('mine.txt', 'w').write('a')\n"
        "listener = socket.socket(); listener.bind(('127.0.0.1', 47011)); listener.listen()\n"
        "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "print(os.getpid())"
    )
    results, info = try_run(fresh_server, fresh_prefix, leave_things)
    assert results[1].status == CellStatus.RAN, results[1].error
    assert results[1].output == "1\n"  # PID 1 of a namespace of its own
    assert not _processes_with("sleep\x001000"), "a reader's process outlived its run"
    results, info = try_run(fresh_server, fresh_prefix, ESPIONAGE)
    assert info.sandbox["checkpoint"] == "warm"
    out = results[1].output
    assert "tmp ['work'] ['from_prefix.txt']" in out  # the prefix's file, not reader A's
    assert "pids [1]" in out
    assert f"uid {fresh_server.sandbox_uid} caps 0000000000000000" in out
    assert "unshare -1 mount -1" in out
    assert "no connection:" in out  # its own network namespace: the other reader is not there


def test_hostile_readers_end_in_a_status_and_the_checkpoint_serves_on(fresh_server, fresh_prefix):
    for code, status in (
        ("while True:\n    pass", CellStatus.TIMEOUT),
        ("chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))", CellStatus.MEMORY_LIMIT),
        ("while True:\n    print('spam' * 100)", CellStatus.OUTPUT_LIMIT),
        ("import os\nos._exit(3)", CellStatus.CRASHED),
        # Everything in the reader's own PID namespace but its PID 1, which the kernel spares.
        (
            "import os, signal, subprocess\nchild = subprocess.Popen(['sleep', '100'])\n"
            "os.kill(-1, signal.SIGKILL)\nprint('still here', child.wait())",
            CellStatus.RAN,
        ),
    ):
        results, info = try_run(fresh_server, fresh_prefix, (code, None, {"timeout": 2}))
        assert results[1].status == status, (code, results[1])
        assert info.sandbox["checkpoint"] in ("new", "warm")
    results, info = try_run(fresh_server, fresh_prefix, "print(base)")
    assert results[1].output == "21\n" and info.sandbox["checkpoint"] == "warm"


def test_a_checkpoint_killed_mid_run_is_a_clear_crash_and_the_next_run_works(fresh_server, fresh_prefix):
    _, info = try_run(fresh_server, fresh_prefix, "1")
    pid = info.sandbox["checkpoint_pid"]
    threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
    results, info = try_run(fresh_server, fresh_prefix, "import time\ntime.sleep(5)\nprint('never')")
    assert results[1].status == CellStatus.CRASHED
    assert "checkpoint" in results[1].error and "run it again" in results[1].error
    results, info = try_run(fresh_server, fresh_prefix, "print(base)")
    assert results[1].output == "21\n" and info.sandbox["checkpoint"] == "new"


def test_checkpoints_beyond_the_count_or_the_budget_are_evicted_oldest_first(fresh_server):
    one = {"max": 1, "budget_bytes": 2 * 1024**3}
    first, second = (
        (f"value = 1\nstamp = {time.monotonic_ns()}",),
        (f"value = 2\nstamp = {time.monotonic_ns()}",),
    )
    assert try_run(fresh_server, first, "print(value)", one)[1].sandbox["checkpoint"] == "new"
    _, info = try_run(fresh_server, second, "print(value)", one)
    assert info.sandbox["checkpoint"] == "new" and info.sandbox["checkpoints_held"] == 1
    results, info = try_run(fresh_server, first, "print(value)", one)
    assert info.sandbox["checkpoint"] == "new", "the first was evicted when the second came"
    tiny = {"max": 4, "budget_bytes": 1}  # over budget: only the newest is kept
    try_run(fresh_server, second, "print(value)", tiny)
    _, info = try_run(fresh_server, second, "print(value)", tiny)
    assert info.sandbox["checkpoint"] == "warm" and info.sandbox["checkpoints_held"] == 1


@pytest.mark.parametrize(
    ("prefix", "edited", "why"),
    [
        ((), "print(1)", "no published cells"),
        (("1 / 0",), "print(1)", "did not run cleanly"),
        (("x = 1",), ("print(x)", None, {"device": "cuda"}), "CUDA"),
    ],
)
def test_where_no_checkpoint_serves_the_run_goes_the_usual_way(fresh_server, prefix, edited, why):
    results, info = try_run(fresh_server, prefix, edited)
    assert info.sandbox["checkpoint"] == "none" and why in info.sandbox["checkpoint_skipped"]
    assert len(results) == len(prefix) + 1


def test_turned_off_every_run_reruns_its_prefix(fresh_server, fresh_prefix):
    _, info = try_run(fresh_server, fresh_prefix, "print(base)", {"max": 0, "budget_bytes": 0})
    assert info.sandbox["checkpoint"] == "none" and "turned off" in info.sandbox["checkpoint_skipped"]


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ("import mmap\nshared = mmap.mmap(-1, 4096)", "shared memory"),
        ("import multiprocessing as mp\ncounter = mp.Value('i', 0)", "shared memory"),
        (
            "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()",
            "threads",
        ),
        ("import subprocess\nhelper = subprocess.Popen(['sleep', '60'])", "processes"),
    ],
)
def test_published_cells_that_leave_something_readers_would_share_get_no_checkpoint(
    fresh_server, prefix, why
):
    prefix = (f"{prefix}\nstamp = {time.monotonic_ns()}",)
    results, info = try_run(fresh_server, prefix, "print('mine')")
    assert results[1].output == "mine\n"  # the run itself goes the usual way
    assert info.sandbox["checkpoint"] == "none" and why in info.sandbox["checkpoint_skipped"]
    _, info = try_run(fresh_server, prefix, "print('again')")
    assert info.sandbox["checkpoint"] == "none" and why in info.sandbox["checkpoint_skipped"]


def test_a_fifo_left_by_the_published_cells_does_not_block_a_reader(fresh_server):
    prefix = (
        f"import os\nos.mkfifo('pipe')\nopen('plain.txt', 'w').write('x')\nstamp = {time.monotonic_ns()}",
    )
    results, info = try_run(fresh_server, prefix, "import os\nprint(sorted(os.listdir('.')))")
    assert info.sandbox["checkpoint"] == "new"
    assert results[1].output == "['plain.txt']\n"


def test_a_run_cancelled_while_its_checkpoint_is_built_ends_there(fresh_server, fresh_prefix):
    from runner.engine.forkserver import _cell_to_job

    cells = [_cell_to_job(c) for c in make_cells(*fresh_prefix, "print(base)")]
    fresh_server._ensure_running()
    job = {**fresh_server._job(cells, fresh_server.limits), "files": [], "try_checkpoint": ON}
    fresh_server._send({"t": "run", "job": job})
    time.sleep(0.3)  # inside the published cells' 1 s sleep
    fresh_server._send({"t": "cancel"})
    frames = []
    while not frames or frames[-1]["t"] != "end":
        frames.append(fresh_server._receive(time.monotonic() + 30))
    assert [f["t"] for f in frames if f["t"] != "progress"] == ["end"]  # the edited cell never ran
    assert frames[-1]["info"]["detail"] == "the run was cancelled"
    results, info = try_run(fresh_server, fresh_prefix, "print(base)")
    assert results[1].output == "21\n" and info.sandbox["checkpoint"] == "new"
