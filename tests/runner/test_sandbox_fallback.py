"""Where the kernel refuses a layer, a run still works and its provenance says what it lacked.

The fork server is started under a seccomp filter of the test's own (the way a container
runtime's profile refuses calls), then runs a cell as usual.
"""

import os
import stat
import sys

import pytest

from runner.engine.forkserver import ForkServer
from runner.engine.protocol import CellStatus
from tests.runner.conftest import TEST_LIMITS, expected_tmp_entries, run

# Installs a filter refusing the named system calls, then becomes the real interpreter.
REFUSING_PYTHON = """#!{python}
import ctypes, errno, os, sys
lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
lib.seccomp_init.restype = ctypes.c_void_p
ctx = ctypes.c_void_p(lib.seccomp_init(0x7FFF0000))
for name in {refused!r}:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    lib.seccomp_rule_add_array(ctx, 0x00050000 | errno.EPERM, number, 0, None)
assert lib.seccomp_load(ctx) == 0
os.execv({python!r}, [{python!r}, *sys.argv[1:]])
"""


@pytest.fixture
def refusing_server(tmp_path):
    def start(*refused: str) -> ForkServer:
        wrapper = tmp_path / "python"
        wrapper.write_text(REFUSING_PYTHON.format(python=sys.executable, refused=refused))
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        server = ForkServer.start(limits=TEST_LIMITS, python=str(wrapper))
        started.append(server)
        return server

    started: list[ForkServer] = []
    yield start
    for server in started:
        server.close()


def test_without_pivot_root_the_run_keeps_a_private_tmp_and_says_so(refusing_server):
    server = refusing_server("pivot_root")
    cell = ("import os\nprint(sorted(os.listdir('/tmp')))\n1 + 1", f"{expected_tmp_entries()}\n2")
    results, info = run(server, cell)
    assert results[0].status == CellStatus.PASSED, results[0].error
    layers = info.sandbox["layers"]
    assert layers["fresh root"] is False and layers["private /tmp"] is True
    assert layers["seccomp"] is True and layers["mount namespace"] is True
    assert "pivot_root" in info.sandbox["fresh_root_error"]
    assert server.isolation["layers"]["fresh root"] is False


def test_without_namespaces_the_run_still_works_and_says_so(refusing_server):
    server = refusing_server("unshare", "setns")
    results, info = run(server, ("print(6 * 7)", "42"))
    assert results[0].status == CellStatus.PASSED, results[0].error
    layers = info.sandbox["layers"]
    assert not any(on for name, on in layers.items() if name.endswith("namespace")), layers
    assert layers["fresh root"] is False and layers["seccomp"] is True
    assert info.sandbox["uid"] in (os.getuid(), 65534)
