import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # analytics de-duplicates visitors in the shared cache
    yield
    cache.clear()
