"""Hostile cells against the real fork server: each is contained, and the server goes on.

Every test uses ``fresh_server``, which afterwards checks that the server process is the same
one and that a normal cell on it still passes.
"""

import os
import socket

import pytest

from runner.engine.protocol import CellStatus
from tests.runner.conftest import SECRETS, run

S = CellStatus
FAST = {"timeout": 1}


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if marker.encode() in cmdline.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.parametrize(
    "code",
    [
        "while True:\n    pass",
        "import time\ntime.sleep(10**6)",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
    ],
    ids=["busy-loop", "sleep", "sigterm-ignoring-loop"],
)
def test_endless_cells_time_out_and_later_cells_are_skipped(fresh_server, code):
    results, info = run(fresh_server, (code, None, FAST), "1")
    assert [r.status for r in results] == [S.TIMEOUT, S.SKIPPED]
    assert 1 <= results[0].duration_s < 3
    assert info.outcome == "timeout"


def test_fork_bomb_is_contained(fresh_server):
    code = "import os\nwhile True:\n    os.fork()"
    results, _ = run(fresh_server, (code, None, FAST))
    assert results[0].status in {S.ERROR, S.TIMEOUT, S.MEMORY_LIMIT}


def test_grandchild_in_its_own_session_does_not_survive(fresh_server):
    marker = "987.6543"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep({marker})'])\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "import time; time.sleep(0.3)\nprint('started')"
    )
    results, _ = run(fresh_server, (code, "started"))
    assert results[0].status == S.PASSED
    assert _processes_with(marker) == []


def test_ten_thousand_threads(fresh_server):
    code = (
        "import threading, time\n"
        "for _ in range(10_000):\n"
        "    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()"
    )
    results, _ = run(fresh_server, (code, None, {"timeout": 3}))
    assert results[0].status in {S.ERROR, S.TIMEOUT, S.MEMORY_LIMIT}
    if results[0].status == S.ERROR:
        assert "thread" in results[0].error


def test_growing_list_hits_the_memory_limit(fresh_server):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))"
    results, info = run(fresh_server, (code, None, {"timeout": 10}), "1")
    assert [r.status for r in results] == [S.MEMORY_LIMIT, S.SKIPPED]


def test_printing_forever_hits_the_output_limit(fresh_server):
    results, _ = run(fresh_server, ("while True:\n    print('spam' * 100)", None, {"timeout": 10}), "1")
    assert [r.status for r in results] == [S.OUTPUT_LIMIT, S.SKIPPED]
    assert len(results[0].output.encode()) <= 64 * 1024
    assert "output limit" in results[0].error


def test_huge_file_is_refused(fresh_server):
    code = "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)"
    results, _ = run(fresh_server, (code, None, {"timeout": 10}))
    assert results[0].status == S.ERROR
    assert "File too large" in results[0].error or "No space left" in results[0].error


def test_hundred_thousand_tiny_files_are_refused(fresh_server):
    code = "for i in range(100_000):\n    open(f'f{i}', 'w').close()"
    results, _ = run(fresh_server, (code, None, {"timeout": 5}))
    assert results[0].status in {S.ERROR, S.TIMEOUT}


def test_no_secret_reaches_a_cell(fresh_server):
    settings_file = os.path.join(os.path.dirname(__file__), "..", "..", "config", "settings.py")
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for path in ['/proc/1/environ', '/proc/self/environ', f'/proc/{os.getppid()}/environ', "
        f"{os.path.abspath(settings_file)!r}]:\n"
        "    try:\n"
        "        print(path, open(path, 'rb').read())\n"
        "    except OSError as exc:\n"
        "        print(path, exc)\n"
    )
    results, _ = run(fresh_server, code)
    assert results[0].status == S.RAN
    seen = results[0].output + results[0].stderr
    environment = results[0].output.splitlines()[0]
    assert "PATH" in environment
    for name in SECRETS:
        assert name not in environment
    assert "settings.py" in seen  # the file itself is readable: it holds no secret
    for value in SECRETS.values():
        assert value not in seen
    for fragment in ("db-password", "broker-password", "cache-password", "runner-test-secret"):
        assert fragment not in seen


def test_network_is_unreachable(fresh_server):
    for port in (6379, 5432):
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                pytest.skip(f"nothing listens on 127.0.0.1:{port} here, so the test would prove nothing")
    code = (
        "import socket\n"
        "for port in (6379, 5432):\n"
        "    s = socket.socket()\n"
        "    s.settimeout(1)\n"
        "    try:\n"
        "        s.connect(('127.0.0.1', port))\n"
        "        print(port, 'connected')\n"
        "    except OSError as exc:\n"
        "        print(port, 'refused', type(exc).__name__)\n"
    )
    results, info = run(fresh_server, (code, None, {"timeout": 5}))
    assert results[0].status == S.RAN
    assert "connected" not in results[0].output
    assert results[0].output.count("refused") == 2
    assert info.sandbox["namespaces"]["net"] is True


def test_killing_the_parent_leaves_the_server_alive(fresh_server):
    results, _ = run(fresh_server, "import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(0.2)")
    assert results[0].status in {S.CRASHED, S.RAN}


def test_kill_minus_one_only_inside_its_own_pid_namespace(fresh_server):
    _, info = run(fresh_server, "1")
    if not (info.sandbox["namespaces"]["pid"] and info.sandbox.get("private_proc")):
        pytest.skip("no private PID namespace: kill(-1) could reach the whole machine")
    # Guarded twice: the cell itself refuses unless it is PID 1 of its own namespace.
    code = (
        "import os, subprocess\n"
        "subprocess.Popen(['sleep', '100'])\n"
        "assert os.getpid() == 1, 'not alone in a PID namespace'\n"
        "os.kill(-1, 9)\n"
        "print('still here')"
    )
    results, _ = run(fresh_server, (code, "still here"))
    assert results[0].status in {S.PASSED, S.CRASHED}


def test_input_gets_end_of_file_at_once(fresh_server):
    results, _ = run(fresh_server, ("input('name? ')", None, {"raises": "EOFError", "timeout": 5}))
    assert results[0].status == S.PASSED
    assert results[0].duration_s < 1


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("import os\nos._exit(3)", "exited with code 3"),
        ("import ctypes\nctypes.string_at(0)", "SIGSEGV"),
    ],
    ids=["os-exit", "segfault"],
)
def test_dying_process_is_crashed(fresh_server, code, detail):
    results, info = run(fresh_server, code, "1")
    assert [r.status for r in results] == [S.CRASHED, S.SKIPPED]
    assert detail in results[0].error
    assert info.outcome == "crashed"


def test_ten_thousand_figures(fresh_server):
    code = "import matplotlib.pyplot as plt\nfor i in range(10_000):\n    plt.figure(figsize=(1, 1))"
    results, _ = run(fresh_server, (code, None, {"timeout": 5}), "1")
    # Counted as they are made: the sixth figure is refused at once, long before the timeout.
    assert results[0].status == S.OUTPUT_LIMIT, results[0].error
    assert "more than 5 figures" in results[0].error
    assert results[0].duration_s < 2
    assert len(results[0].figures) == 5
    assert results[1].status == S.SKIPPED


def test_figures_made_and_closed_in_a_loop_are_fine(fresh_server):
    code = (
        "import matplotlib.pyplot as plt\n"
        "for i in range(30):\n"
        "    plt.figure(figsize=(1, 1))\n"
        "    plt.close()\n"
        "plt.figure(figsize=(1, 1))\n"
        "print('ok')"
    )
    results, _ = run(fresh_server, (code, "ok"))
    assert results[0].status == S.PASSED, results[0].error
    assert len(results[0].figures) == 1


def test_a_file_left_in_tmp_is_gone_on_the_next_run(fresh_server):
    marker = f"kb-leftover-{os.getpid()}.txt"
    results, info = run(fresh_server, f"open('/tmp/{marker}', 'w').write('x')\nimport os\nos.getcwd()")
    assert results[0].status == S.RAN
    if not info.sandbox.get("private_tmp"):
        pytest.skip("no private /tmp here")
    assert not os.path.exists(f"/tmp/{marker}")
    results, _ = run(fresh_server, (f"import os\nos.path.exists('/tmp/{marker}')", "False"))
    assert results[0].status == S.PASSED


def test_the_fork_server_never_initialises_cuda(fresh_server):
    with open(f"/proc/{fresh_server.pid}/maps") as maps:
        assert "libcuda.so" not in maps.read()
