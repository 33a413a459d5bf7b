"""Sandbox hardening: socket families, residue of earlier answers, no process outliving its
supervisor, /proc kept to what cells need. Each through a real fork server and its sandbox."""

import os
import signal
import time
import uuid

import pytest

from runner.engine.forkserver import ForkServer
from runner.engine.protocol import CellStatus as S
from runner.engine.watch import direct_children

from .conftest import TEST_LIMITS, make_cells, run
from .test_sandbox_fallback import REFUSING_PYTHON

ALLOWED_FAMILIES = {1, 2, 10, 16}  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK


def test_socket_is_refused_for_every_family_but_the_four_cells_need(fresh_server):
    code = (
        "import ctypes, errno, socket\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "opened, refused, other = [], [], {}\n"
        "for family in list(range(64)) + [64, 255, 4096, 2**31 - 1]:\n"
        "    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):\n"
        "        try:\n"
        "            socket.socket(family, kind).close()\n"
        "            opened.append(family)\n"
        "            break\n"
        "        except OSError as exc:\n"
        "            if exc.errno != errno.EPERM:\n"
        "                other[family] = errno.errorcode[exc.errno]\n"
        "    else:\n"
        "        if family not in other:\n"
        "            refused.append(family)\n"
        "print('opened', sorted(set(opened)))\n"
        "print('not refused', sorted(set(other) - set(opened)))\n"
        "print('refused', len(set(refused)))\n"
        # The family is an int: high bits set on the raw register do not sneak vsock through.
        "libc.syscall.restype = ctypes.c_long\n"
        "fd = libc.syscall(41, ctypes.c_long((1 << 32) | 40), 1, 0)\n"
        "print('raw vsock', fd, errno.errorcode.get(ctypes.get_errno()))\n"
        "try:\n"
        "    socket.socketpair(40, socket.SOCK_STREAM)\n"
        "    print('socketpair vsock opened')\n"
        "except OSError as exc:\n"
        "    print('socketpair vsock', errno.errorcode[exc.errno])\n"
        "try:\n"
        "    socket.socket(40, socket.SOCK_STREAM).connect((2, 22))\n"
        "    print('vsock connected')\n"
        "except OSError as exc:\n"
        "    print('vsock', errno.errorcode[exc.errno])\n"
    )
    results, info = run(fresh_server, code)
    if not info.sandbox.get("seccomp"):
        pytest.skip(f"no seccomp filter here: {info.sandbox.get('seccomp_error')}")
    assert results[0].status == S.RAN, results[0].error
    lines = results[0].output.splitlines()
    assert lines[0] == f"opened {sorted(ALLOWED_FAMILIES)}"
    assert lines[1] == "not refused []"
    assert lines[2] == f"refused {64 + 4 - len(ALLOWED_FAMILIES)}"
    assert lines[3:] == ["raw vsock -1 EPERM", "socketpair vsock EPERM", "vsock EPERM"]


def _memory_scan(markers: dict[str, str]) -> str:
    """A cell that searches its own anonymous memory for each marker, held as two halves so
    that the cell itself never makes the whole marker."""
    halves = {name: (token[:16], token[16:]) for name, token in markers.items()}
    return (
        f"halves = {halves!r}\n"
        "found = {name: 0 for name in halves}\n"
        "regions = []\n"
        "with open('/proc/self/maps') as maps:\n"
        "    for line in maps:\n"
        "        fields = line.split()\n"
        "        anonymous = len(fields) < 6 or fields[5] in ('[heap]', '[stack]')\n"
        "        if 'r' in fields[1] and anonymous:\n"
        "            start, end = (int(x, 16) for x in fields[0].split('-'))\n"
        "            regions.append((start, end))\n"
        "scanned = 0\n"
        "with open('/proc/self/mem', 'rb', buffering=0) as mem:\n"
        "    for start, end in regions:\n"
        "        position = start\n"
        "        while position < end:\n"
        "            size = min(1 << 24, end - position)\n"
        "            try:\n"
        "                mem.seek(position)\n"
        "                chunk = mem.read(size + 64)\n"
        "            except OSError:\n"
        "                break\n"
        "            scanned += len(chunk)\n"
        "            for name, (head, tail) in halves.items():\n"
        "                head, tail = head.encode(), tail.encode()\n"
        "                at = chunk.find(head)\n"
        "                while at >= 0:\n"
        "                    if chunk[at + len(head) : at + len(head) + len(tail)] == tail:\n"
        "                        found[name] += 1\n"
        "                    at = chunk.find(head, at + 1)\n"
        "            del chunk\n"
        "            position += size\n"
        "print(found)\n"
        "print('scanned MiB', scanned >> 20)\n"
    )


def test_answer_b_finds_nothing_of_answer_a_in_its_memory_or_files(fresh_server):
    source, output, data = (uuid.uuid4().hex for _ in range(3))
    answer_a = (
        f"secret_source = 'SRC{source}'\n"
        f"print('OUT' + {output[::-1]!r}[::-1])\n"  # the output token is made at run time
        f"open('/tmp/a-data.txt', 'w').write('DAT' + bytes.fromhex({data.encode().hex()!r}).decode())\n"
        "big = ('row ' * 1000 + '\\n') * 50\n"
        "len(big)"
    )
    results, _ = run(fresh_server, answer_a)
    assert results[0].status == S.RAN, results[0].error
    assert f"OUT{output}" in results[0].output

    markers = {"source": f"SRC{source}"[:32], "output": f"OUT{output}"[:32], "data": f"DAT{data}"[:32]}
    answer_b = (
        _memory_scan(markers)
        + "import os\nprint(sorted(os.listdir('/tmp')), os.path.exists('/tmp/a-data.txt'))"
    )
    results, _ = run(fresh_server, (answer_b, None, {"timeout": 60}))
    assert results[0].status == S.RAN, results[0].error
    found, scanned, files = results[0].output.splitlines()
    assert found == "{'source': 0, 'output': 0, 'data': 0}"
    assert int(scanned.split()[-1]) > 10  # it really read its memory: the heap, the arenas
    assert "a-data.txt" not in files and files.endswith("False")


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as status:
                    for line in status:
                        if line.startswith("Uid:") and int(line.split()[1]) == uid:
                            pids.append(int(entry))
            except (OSError, ValueError):
                continue
    return pids


def _wait_until_gone(pids, timeout=10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}") and not _is_zombie(pid)]
    return alive


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


LONG_CELLS = (
    "1",
    ("import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)", None, {"timeout": 400}),
)


@pytest.fixture
def own_server():
    """A fork server of the test's own, with a sandbox uid nobody else uses, to be killed."""
    uid = 61000 + os.getpid() % 3000
    server = ForkServer.start(limits=TEST_LIMITS, sandbox_uid=uid)
    yield server, uid
    server.close()


def _start_long_run(server, uid):
    return _start_long_run_with(server, uid, LONG_CELLS)


def _start_long_run_with(server, uid, cells):
    answer = server.run_answer(make_cells(*cells))
    for _ in cells[:-1]:
        assert next(answer).status == S.RAN  # the cells before the last are done
    deadline = time.monotonic() + 20
    while len(_processes_of(uid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sandboxed = _processes_of(uid)
    assert len(sandboxed) >= 2, "the cell and its sleep should be running as the sandbox uid"
    return answer, sandboxed


def test_no_sandbox_process_outlives_its_killed_fork_server(own_server):
    server, uid = own_server
    answer, sandboxed = _start_long_run(server, uid)
    template = sorted(direct_children(server.pid))
    assert len(template) == 1, "the fork server's one child between jobs is its template"
    os.kill(server.pid, signal.SIGKILL)
    assert _wait_until_gone(sandboxed + template) == []
    rest = list(answer)
    assert rest[0].status == S.CRASHED and "fork server" in rest[0].error


def test_killing_the_template_ends_the_run_and_the_next_run_works(own_server):
    server, uid = own_server
    answer, sandboxed = _start_long_run(server, uid)
    (template,) = sorted(direct_children(server.pid))
    os.kill(template, signal.SIGKILL)
    assert _wait_until_gone(sandboxed) == []
    assert list(answer)[0].status == S.CRASHED
    results, _ = run(server, ("print(6 * 7)", "42"))
    assert [r.status for r in results] == [S.PASSED]


def test_proc_shows_what_cells_need_and_hides_the_kernels_internals(fresh_server):
    code = (
        "import os\n"
        "for name in ('kallsyms', 'config.gz', 'kmsg', 'kcore', 'timer_list', 'sysrq-trigger'):\n"
        "    path = '/proc/' + name\n"
        "    if os.path.exists(path):\n"
        "        try:\n"
        "            print(name, len(open(path, 'rb').read(4096)))\n"
        "        except OSError as exc:\n"
        "            print(name, 'unreadable', exc.errno)\n"
        "print('acpi', os.listdir('/proc/acpi') if os.path.isdir('/proc/acpi') else 'absent')\n"
        "print('meminfo', open('/proc/meminfo').read().startswith('MemTotal'))\n"
        "print('cpuinfo', len(open('/proc/cpuinfo').read()) > 0)\n"
        "print('self', os.path.exists('/proc/self/status'))\n"
    )
    results, info = run(fresh_server, code)
    if not info.sandbox.get("private_proc"):
        pytest.skip("no private /proc here")
    lines = results[0].output.splitlines()
    for line in lines:
        name, value = line.split(" ", 1)
        if name in ("meminfo", "cpuinfo", "self"):
            assert value == "True", line
        elif name == "acpi":
            assert value in ("[]", "absent"), line
        else:
            assert value == "0" or value.startswith("unreadable"), line
    assert any(line.startswith("kallsyms") for line in lines)




def test_without_a_pid_namespace_a_daemonised_cell_dies_with_its_server(tmp_path):
    """The development fallback: no PID namespace to take the cell's processes with it, so the
    server's owner kills everything of the sandbox uid once the server is gone."""
    import sys

    wrapper = tmp_path / "python"
    wrapper.write_text(REFUSING_PYTHON.format(python=sys.executable, refused=("setns",)))
    wrapper.chmod(0o755)
    uid = 58000 + os.getpid() % 3000
    server = ForkServer.start(limits=TEST_LIMITS, python=str(wrapper), sandbox_uid=uid)
    try:
        _, info = run(server, "1")
        if info.sandbox["namespaces"]["pid"] or info.sandbox.get("uid") != uid:
            pytest.skip("this machine still gave the cell a PID namespace, or no sandbox uid")
        daemon = "import subprocess\nsubprocess.Popen(['setsid', 'sleep', '300'])"
        answer, sandboxed = _start_long_run_with(server, uid, ("1", daemon) + LONG_CELLS[1:])
        os.kill(server.pid, signal.SIGKILL)
        list(answer)  # the owner sees the server die (as a worker does at once)
        assert _wait_until_gone(sandboxed + _processes_of(uid)) == []
    finally:
        server.close()
