"""While the database is unreachable, readers get a clear 503 page, and cached pages keep being
served. The outage is real: the site's connection is pointed at a loopback
port where no PostgreSQL listens, as after the server went away."""

import contextlib

import pytest
from django.db import connection
from django.test import Client
from django.urls import path

from tests.support.brokers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def database_unreachable():
    original = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original


def test_uncached_pages_and_search_are_a_503_with_retry_after_while_cached_pages_serve(flagship):
    reader = Client(raise_request_exception=False)
    article = f"/questions/{flagship.slug}/"
    assert reader.get(article).status_code == 200  # now in the page cache
    with database_unreachable():
        cached = reader.get(article)
        assert cached.status_code == 200
        assert flagship.title in cached.content.decode()
        for path in ("/search/?q=convolution", "/tags/", "/questions/no-such-question/"):
            response = reader.get(path)
            assert response.status_code == 503, path
            assert response["Retry-After"] == "30"
            assert "no-store" in response["Cache-Control"]
            page = response.content.decode()
            assert "Temporarily unavailable" in page and "try again shortly" in page
    assert reader.get("/search/?q=convolution").status_code == 200  # back once it is


def _broken(request):
    raise ValueError("a bug, not an outage")


# This module is also the URLconf of the next test: one view with a bug, the site's handler.
urlpatterns = [path("broken/", _broken)]
handler500 = "config.errors.server_error"


def test_a_bug_is_still_the_500_page(settings):
    reader = Client(raise_request_exception=False)
    settings.ROOT_URLCONF = __name__
    response = reader.get("/broken/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "Retry-After" not in response
