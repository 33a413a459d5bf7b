"""The try-it store's two implementations as one fixture, so a contract test runs on both:
the real Redis of the tests, and the SQLite file bin/run uses (runner/tryit_store.py)."""

import pytest

from runner.tryit_redis import IN_FLIGHT_KEY
from runner.tryit_store import store

BACKENDS = ("redis", "sqlite")


@pytest.fixture(params=BACKENDS)
def try_store(request, settings, tmp_path):
    """settings.TRYIT_STORE_URL pointed at one backend, with no slot held when the test starts."""
    if request.param == "redis":
        settings.TRYIT_STORE_URL = settings.CACHE_URL
        store().client.delete(IN_FLIGHT_KEY)
    else:
        settings.TRYIT_STORE_URL = f"sqlite://{tmp_path / 'tryit.sqlite3'}"
    yield store()
    if request.param == "redis":
        store().client.delete(IN_FLIGHT_KEY)
