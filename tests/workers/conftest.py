# The worker, broker and SMTP fixtures live in tests/support/workers.py (loaded by
# tests/conftest.py for every test folder); these names are re-exported for imports.
# own_database: a PostgreSQL of a test's own, which it may restart under a worker (issue 21).
from tests.support.postgres import own_database  # noqa: F401
from tests.support.workers import WorkerProcess, wait_for  # noqa: F401
