# The worker, broker and SMTP fixtures live in tests/support/workers.py (loaded by
# tests/conftest.py for every test folder); these names are re-exported for imports.
from tests.support.workers import WorkerProcess, wait_for  # noqa: F401
