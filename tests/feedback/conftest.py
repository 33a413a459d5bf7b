import time

import pytest
from django.core.cache import cache

from demo_requests.spam import time_token_issue


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate limits and single-use form tokens live in the shared cache: start each test clean.
    cache.clear()
    yield
    cache.clear()


def started_10_s_ago() -> str:
    return time_token_issue(issued_at=time.time() - 10)
