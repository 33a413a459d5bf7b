import os

import pytest

from answers.cells import Cell, CellOptions
from runner.engine.forkserver import ForkServer
from runner.engine.protocol import CellStatus, Limits

# Put in the test process's environment before the server starts: none may reach a cell.
SECRETS = {
    "DJANGO_SECRET_KEY": "runner-test-secret-key-4f9c2e",
    "DATABASE_URL": "postgres://kb:db-password-8d1a7b@127.0.0.1:5432/kb",
    "CELERY_BROKER_URL": "redis://:broker-password-3e6f0c@127.0.0.1:6379/0",
    "REDIS_URL": "redis://:cache-password-a5b9d2@127.0.0.1:6379/1",
}

# Small limits keep the hostile suite fast; the defaults suit a worker, not a test run.
TEST_LIMITS = Limits(
    memory_bytes=256 * 1024**2,
    output_bytes=64 * 1024,
    processes=64,
    file_bytes=4 * 1024**2,
    tmp_bytes=16 * 1024**2,
    tmp_inodes=2_000,
    figures_per_cell=5,
    figures_per_answer=8,
)


def make_cells(*specs) -> list[Cell]:
    """Cells from code strings or (code, expected) or (code, expected, options dict) tuples."""
    cells = []
    for index, spec in enumerate(specs):
        if isinstance(spec, str):
            spec = (spec,)
        code, expected, options = (*spec, None, None)[:3]
        cells.append(
            Cell(
                index=index,
                line=1 + 10 * index,
                code=code,
                options=CellOptions(**(options or {})),
                expected=expected,
            )
        )
    return cells


def run(server, *specs, **kwargs):
    results, info = server.run_answer(make_cells(*specs), **kwargs).wait()
    return results, info


def assert_healthy(server):
    """A normal cell on the same server still passes."""
    results, _ = run(server, ("import torch\nprint(sum(range(10)))\ntorch.ones(2).sum()", "45\ntensor(2.)"))
    assert [r.status for r in results] == [CellStatus.PASSED], results


@pytest.fixture(scope="session")
def server():
    saved = {name: os.environ.get(name) for name in SECRETS}
    os.environ.update(SECRETS)
    try:
        fork_server = ForkServer.start(limits=TEST_LIMITS)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield fork_server
    fork_server.close()


@pytest.fixture
def fresh_server(server):
    """The shared server, checked to be alive and unchanged after the test."""
    pid = server.pid
    yield server
    assert server.pid == pid, "the fork server was replaced: it died during the test"
    assert_healthy(server)


def expected_tmp_entries() -> list[str]:
    """What a cell's private /tmp holds: its work dir, plus the first directory of any
    interpreter or venv tree that lives under /tmp (a CI checkout), kept visible read-only."""
    import os
    import sys
    from pathlib import Path

    names = {"work"}
    for path in (sys.base_prefix, sys.prefix):
        for spelling in (path, os.path.realpath(path)):
            parts = Path(spelling).parts
            if len(parts) > 2 and parts[1] == "tmp":
                names.add(parts[2])
    return sorted(names)
