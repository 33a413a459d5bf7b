"""The sandbox hides the host: what a cell can reach of the machine, through the real fork server.

A cell sees a fresh root built from an allow-list (the interpreter, the libraries, a private
/tmp), a seccomp filter denies the system calls no cell needs, and the provenance says which
of these layers the run really had.
"""

import os
import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from runner.engine.forkserver import ForkServer
from runner.engine.isolation import probe_isolation
from runner.engine.protocol import CellStatus
from tests.runner.conftest import TEST_LIMITS, expected_tmp_entries, run

S = CellStatus
CHECKOUT = Path(__file__).resolve().parents[2]
SLOW = {"timeout": 30}


def _postgres_socket_dir() -> str:
    for path in ("/var/run/postgresql", "/run/postgresql"):
        if os.path.exists(f"{path}/.s.PGSQL.5432"):
            return path
    pytest.skip("no PostgreSQL Unix socket on this machine: the test would prove nothing")


def _layers(server) -> dict:
    _, info = run(server, "1")
    return info.sandbox["layers"]


def test_a_cell_cannot_reach_postgresql_through_its_unix_socket(fresh_server):
    socket_dir = _postgres_socket_dir()
    import psycopg

    # The host itself can: the socket is live and trusts local connections.
    psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", connect_timeout=5).close()
    code = (
        "import psycopg\n"
        "try:\n"
        f"    psycopg.connect(host={socket_dir!r}, user='postgres', dbname='postgres', connect_timeout=3)\n"
        "    print('connected')\n"
        "except psycopg.OperationalError as exc:\n"
        "    print('refused:', exc)\n"
        "import os\n"
        f"print(os.path.exists({socket_dir!r}), os.path.exists('/run'), os.path.exists('/var'))"
    )
    results, _ = run(fresh_server, (code, None, {"timeout": 10}))
    assert results[0].status == S.RAN, results[0].error
    assert "connected" not in results[0].output.replace("refused", "")
    assert "refused:" in results[0].output
    assert results[0].output.splitlines()[-1] == "False False False"


def test_a_secret_beside_the_code_is_not_readable(fresh_server):
    secret = CHECKOUT / f".kb-test-secret-{os.getpid()}"
    secret.write_text("checkout-secret-7d3f")
    secret.chmod(0o644)  # readable by any user of the host: only the sandbox's view hides it
    try:
        paths = [str(secret), str(CHECKOUT / "config" / "settings.py"), str(CHECKOUT)]
        code = (
            "import os\n"
            f"for path in {paths!r}:\n"
            "    try:\n"
            "        shown = open(path).read()[:40] if os.path.isfile(path) else sorted(os.listdir(path))\n"
            "        print(path, shown)\n"
            "    except OSError as exc:\n"
            "        print(path, type(exc).__name__)\n"
        )
        results, _ = run(fresh_server, code)
    finally:
        secret.unlink()
    assert results[0].status == S.RAN, results[0].error
    seen = results[0].output
    assert "checkout-secret" not in seen
    assert f"{secret} FileNotFoundError" in seen
    assert f"{CHECKOUT / 'config' / 'settings.py'} FileNotFoundError" in seen
    # At most the path to the virtual environment (a symbolic link) is left of the checkout.
    listing = seen.splitlines()[-1]
    assert listing in (f"{CHECKOUT} FileNotFoundError", f"{CHECKOUT} ['.venv']"), listing


def test_the_hosts_tmp_and_root_are_not_visible(fresh_server, tmp_path):
    marker = tmp_path / "host-marker.txt"
    marker.write_text("host")
    tmp_path.chmod(0o755)
    code = (
        "import os\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.listdir('/tmp'))\n"
        f"print(os.path.exists({str(marker)!r}))"
    )
    results, _ = run(fresh_server, code)
    assert results[0].status == S.RAN, results[0].error
    top, tmp, marker_seen = results[0].output.splitlines()
    allowed = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"}
    # The interpreter's and the venv's paths bring their first component along (/root, /work).
    interpreter = (sys.base_prefix, sys.prefix)
    allowed |= {Path(path).parts[1] for path in (*interpreter, *map(os.path.realpath, interpreter))}
    assert set(eval(top)) <= allowed, top  # noqa: S307 - a list literal printed by the cell
    assert sorted(eval(tmp)) == expected_tmp_entries()  # noqa: S307
    assert marker_seen == "False"


def test_an_abstract_unix_socket_of_the_host_is_unreachable(fresh_server):
    name = f"\0kb-test-abstract-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(name)
        listener.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(name)  # reachable from the host: the test would otherwise prove nothing
        code = (
            "import socket\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "try:\n"
            f"    s.connect({name!r})\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print('refused', exc.errno)\n"
        )
        results, info = run(fresh_server, code)
    assert results[0].status == S.RAN, results[0].error
    assert results[0].output.startswith("refused")
    assert info.sandbox["namespaces"]["net"] is True


def test_nothing_the_cell_can_write_is_shared_with_the_host(fresh_server):
    marker = f"kb-shared-{os.getpid()}"
    code = (
        "import os\n"
        "writable = []\n"
        "for top, dirs, files in os.walk('/'):\n"
        "    if top in ('/proc', '/tmp', '/dev/shm'):\n"
        "        dirs[:] = []\n"
        "        continue\n"
        "    if os.access(top, os.W_OK):\n"
        "        writable.append(top)\n"
        "print(writable)\n"
        f"open('/tmp/{marker}', 'w').write('x')\n"
        f"open('/dev/shm/{marker}', 'w').write('x')\n"
        "with open('/proc/self/mountinfo') as mounts:\n"
        "    for line in mounts:\n"
        "        fields = line.split()\n"
        "        if fields[4] not in ('/tmp', '/dev/shm', '/proc') and 'rw' in fields[5].split(','):\n"
        "            print('writable mount', fields[4])\n"
    )
    results, _ = run(fresh_server, (code, None, SLOW))
    assert results[0].status == S.RAN, results[0].error
    assert results[0].output.splitlines() == ["[]"]
    assert not os.path.exists(f"/tmp/{marker}") and not os.path.exists(f"/dev/shm/{marker}")


@pytest.mark.parametrize(
    ("name", "number", "args"),
    [
        ("ptrace", 101, (0, 0, 0, 0)),  # PTRACE_TRACEME
        ("keyctl", 250, (0, -1, 0)),  # KEYCTL_GET_KEYRING_ID of the thread keyring
        ("unshare", 272, (0x10000000,)),  # CLONE_NEWUSER
        ("process_vm_readv", 310, (1, 0, 0, 0, 0, 0)),
        ("perf_event_open", 298, (0, 0, -1, -1, 0)),
        ("bpf", 321, (0, 0, 0)),
    ],
)
def test_denied_system_calls_fail_with_eperm(fresh_server, name, number, args):
    if os.uname().machine != "x86_64":
        pytest.skip("system call numbers here are x86_64's")
    code = (
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"result = libc.syscall({number}, *{args!r})\n"
        "print(result, errno.errorcode.get(ctypes.get_errno()))"
    )
    results, info = run(fresh_server, code)
    assert results[0].status == S.RAN, results[0].error
    assert results[0].output.strip() == "-1 EPERM", f"{name}: {results[0].output}"
    assert info.sandbox["layers"]["seccomp"] is True


def test_a_new_user_namespace_is_refused_but_threads_and_processes_work(fresh_server):
    code = (
        "import ctypes, errno, os, subprocess, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "pid = os.fork()\n"  # a forked child may not make one either
        "if pid == 0:\n"
        "    os._exit(0 if libc.unshare(0x10000000) != 0 and ctypes.get_errno() == errno.EPERM else 1)\n"
        "print('child refused:', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0)\n"
        "print('unshare:', libc.unshare(0x10000000), errno.errorcode.get(ctypes.get_errno()))\n"
        "seen = []\n"
        "threads = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print('threads:', sorted(seen))\n"
        "print(subprocess.run(['echo', 'process'], capture_output=True, text=True).stdout.strip())\n"
    )
    results, _ = run(fresh_server, (code, None, {"timeout": 10}))
    assert results[0].status == S.RAN, results[0].error
    assert results[0].output.splitlines() == [
        "child refused: True",
        "unshare: -1 EPERM",
        "threads: [0, 1, 2, 3]",
        "process",
    ]


def test_torch_threads_numpy_and_matplotlib_still_work(fresh_server):
    code = (
        "import torch, numpy, matplotlib.pyplot as plt\n"
        "torch.set_num_threads(2)\n"
        "a = torch.ones(400, 400)\n"
        "print(float((a @ a)[0, 0]), torch.get_num_threads())\n"
        "print(round(float(numpy.linalg.svd(numpy.eye(50))[1].sum())))\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3], [1, 4, 9])\n"
        "_ = ax.set_title('squares $x^2$')\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"  # worker processes, /dev/shm
        "loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, num_workers=2)\n"
        "print([float(batch[0].sum()) for batch in loader])\n"
    )
    # DataLoader's worker processes each count their copy-on-write pages: more room than the
    # hostile suite's 256 MiB, as a worker has.
    roomy = replace(TEST_LIMITS, memory_bytes=2 * 1024**3)
    results, _ = run(fresh_server, (code, "400.0 2\n50\n[6.0, 22.0]", {"timeout": 20}), limits=roomy)
    assert results[0].status == S.PASSED, (results[0].output, results[0].error)
    assert len(results[0].figures) == 1 and results[0].figures[0][:4] == b"\x89PNG"


def test_the_provenance_names_the_layers_granted(fresh_server):
    layers = _layers(fresh_server)
    expected = {"fresh root", "seccomp", "private /tmp", "pid namespace", "net namespace"}
    expected.add("unprivileged user")
    assert expected <= set(layers)
    # This machine grants them all; a machine that does not says so instead of failing.
    assert layers["fresh root"] and layers["seccomp"], layers
    assert fresh_server.isolation["layers"] == layers


def test_probe_isolation_reports_each_layer():
    found = probe_isolation()
    assert found["layers"]["fresh root"] is True and found["layers"]["seccomp"] is True, found
    assert found["layers"]["mount namespace"] is True
    assert found["layers"]["unprivileged user"] is True
    assert found["errors"] == {}


def test_each_sandbox_uid_is_the_one_the_server_was_given():
    with ForkServer.start(limits=TEST_LIMITS, sandbox_uid=200_123) as server:
        results, info = run(server, ("import os, pwd\nprint(os.getuid(), pwd.getpwuid(os.getuid()).pw_name)"))
    assert results[0].output.strip() == "200123 sandbox"
    assert info.sandbox["uid"] == 200_123


def test_a_data_directory_is_shown_read_only_and_nothing_else_beside_it(tmp_path):
    data = tmp_path / "datasets"
    data.mkdir()
    (data / "numbers.csv").write_text("1,2,3\n")
    (tmp_path / "beside.txt").write_text("not for cells")
    for path in (tmp_path, data, data / "numbers.csv", tmp_path / "beside.txt"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    code = (
        "import os\n"
        f"print(open({str(data / 'numbers.csv')!r}).read().strip())\n"
        f"print(os.path.exists({str(tmp_path / 'beside.txt')!r}))\n"
        "try:\n"
        f"    open({str(data / 'new.txt')!r}, 'w')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc.errno)\n"
    )
    with ForkServer.start(limits=TEST_LIMITS, data_dirs=[data]) as server:
        results, _ = run(server, (code, "1,2,3\nFalse\nOSError 30"))  # EROFS
    assert results[0].status == S.PASSED, (results[0].output, results[0].error)
