# The worker, broker and SMTP fixtures live in tests/support/workers.py (loaded by
# tests/conftest.py for every test folder); these names are re-exported for imports.
# own_database: a PostgreSQL of a test's own, which it may restart under a worker.
import pytest
from django.conf import settings

from tests.support.postgres import own_database  # noqa: F401
from tests.support.workers import WorkerProcess, wait_for  # noqa: F401


@pytest.fixture(scope="session")
def try_worker(django_db_setup, broker):
    """The `try` queue's own worker, as bin/run and the deployments start it: a sandbox uid
    base of its own, so readers' processes never count against a verification worker's."""
    uid_base = str(settings.RUNNER_SANDBOX_UID_BASE + 50)
    worker = WorkerProcess("try", queues="try", RUNNER_SANDBOX_UID_BASE=uid_base)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
