"""Hostile edits through the try-it path (start_try_run -> the `try` worker -> read_try_run):
each ends in a clear status for the reader, and the worker goes on serving the next reader.

The same attacks as tests/runner/test_hostile.py and test_hardening.py, sent as a reader's
edited cell after a published prefix, with small try limits so the suite stays fast.
"""

import os
import signal
import socket

import pytest

from runner import tryit
from tests.runner.test_hostile import _processes_with
from tests.support.workers import wait_for

pytestmark = [pytest.mark.slow]

PREFIX = [{"index": 0, "line": 1, "code": "published = 1", "expected": None, "options": {"timeout": 10.0}}]


@pytest.fixture
def small_limits(settings):
    settings.TRYIT_LIMITS = {
        **settings.TRYIT_LIMITS,
        "reader": {
            **settings.TRYIT_LIMITS["reader"],
            "cell_timeout_s": 2.0,
            "memory_bytes": 256 * 1024**2,
            "output_bytes": 64 * 1024,
        },
    }


def try_cell(code: str, timeout: float = 60) -> dict:
    token = tryit.start_try_run(prefix=PREFIX, cell={"code": code, "options": {}})
    return wait_for(lambda: (r := tryit.read_try_run(token)) and r["state"] == "done" and r, timeout=timeout)


def assert_worker_still_serves():
    result = try_cell("print(published + 1)")
    assert (result["status"], result["stdout"]) == ("ran", "2\n"), result


HOSTILE = {
    "busy-loop": ("while True:\n    pass", {"timeout"}),
    "sigterm-ignoring-loop": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
        {"timeout"},
    ),
    "fork-bomb": ("import os\nwhile True:\n    os.fork()", {"error", "timeout", "memory_limit"}),
    "memory-grab": ("chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))", {"memory_limit"}),
    "output-flood": ("while True:\n    print('spam' * 100)", {"output_limit"}),
    "figure-flood": (
        "import matplotlib.pyplot as plt\nfor i in range(1000):\n    plt.figure(); plt.plot([i]); plt.show()",
        {"output_limit", "error"},
    ),
    "huge-file": (
        "with open('/tmp/big', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)",
        {"error"},
    ),
    "kill-the-parent": (
        "import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(0.2)",
        {"crashed", "ran"},
    ),
}


@pytest.mark.parametrize("code, statuses", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_edit_ends_in_a_clear_status(try_worker, small_limits, code, statuses):
    result = try_cell(code)
    assert result["status"] in statuses, result
    if result["status"] != "ran":
        assert result["detail"], "every status but ran says why"
    assert_worker_still_serves()


def test_no_process_of_a_reader_outlives_its_run(try_worker, small_limits):
    marker = "876.5432"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep({marker})'])\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "time.sleep(0.3)\nprint('started')"
    )
    result = try_cell(code)
    assert result["stdout"] == "started\n", result
    assert _processes_with(marker) == []


def test_the_host_and_the_network_are_out_of_reach(try_worker, small_limits, settings):
    for port in (6379, 5432):
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                pytest.skip(f"nothing listens on 127.0.0.1:{port} here, so the test would prove nothing")
    host_dir = repr(str(settings.VAR_DIR))  # the worker's database, broker files and logs
    code = (
        "import os, socket\n"
        "for port in (6379, 5432):\n"
        "    s = socket.socket(); s.settimeout(1)\n"
        "    try:\n"
        "        s.connect(('127.0.0.1', port)); print(port, 'connected')\n"
        "    except OSError as exc:\n"
        "        print(port, 'refused')\n"
        "print(sorted(k for k in os.environ if 'URL' in k or 'SECRET' in k))\n"
        f"print(os.path.exists('/run/postgresql'), os.path.exists({host_dir}), os.getuid() != 0)\n"
    )
    result = try_cell(code)
    assert result["stdout"] == "6379 refused\n5432 refused\n[]\nFalse False True\n", result


def test_a_reader_cannot_read_its_parents_memory_or_signal_it(try_worker, small_limits):
    code = (
        "import os, ctypes\n"
        "parent = os.getppid()\n"
        "try:\n"
        "    open(f'/proc/{parent}/mem', 'rb').read(1); print('read')\n"
        "except OSError as exc:\n"
        "    print('mem refused')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(16, parent, 0, 0))\n"  # PTRACE_ATTACH
    )
    result = try_cell(code)
    assert result["stdout"] == "mem refused\nptrace -1\n", result


def _fork_servers_of(pid: int) -> list[int]:
    from runner.engine.watch import children_of

    found = []
    for child in children_of({pid}):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"runner.engine.forkserver" in cmdline.read():
                    found.append(child)
        except OSError:
            continue
    return found


def test_the_fork_server_killed_mid_run_gives_a_clear_error_and_the_next_run_works(try_worker, small_limits):
    token = tryit.start_try_run(prefix=PREFIX, cell={"code": "import time\ntime.sleep(1.5)", "options": {}})
    wait_for(lambda: tryit.read_try_run(token)["state"] == "running", timeout=30)
    servers = wait_for(lambda: _fork_servers_of(try_worker.process.pid), timeout=10)
    for pid in servers:
        os.kill(pid, signal.SIGKILL)
    result = wait_for(lambda: (r := tryit.read_try_run(token)) and r["state"] == "done" and r, timeout=30)
    assert result["status"] in {"crashed", "prefix_failed"}, result
    assert "fork server" in result["detail"]
    assert_worker_still_serves()
