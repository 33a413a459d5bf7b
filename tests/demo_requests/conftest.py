"""Fixtures for demo requests: a real SMTP server and a second Redis broker on loopback."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from demo_requests.spam import time_token_issue


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The rate limit lives in the shared cache (Redis db 14 under bin/test): start each test clean.
    cache.clear()
    yield
    cache.clear()


def form_data(**overrides) -> dict:
    """A valid demo request as a browser posts it, shown to the visitor 10 seconds ago."""
    data = {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "company": "Analytical Engines Ltd",
        "role": "Head of data",
        "message": "We would like to see GPU runs.",
        "consent": "on",
        "source": "",
        "started": time_token_issue(issued_at=time.time() - 10),
        "website": "",
    }
    data.update(overrides)
    return data
