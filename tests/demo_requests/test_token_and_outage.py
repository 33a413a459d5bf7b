"""The demo form's time-trap token carries one request, and a database outage during a post
answers 503 with the visitor's text kept."""

import contextlib

import pytest
from django.db import connection

from demo_requests.models import DemoRequest
from tests.demo_requests.conftest import form_data
from tests.support.brokers import free_port


@pytest.mark.django_db
def test_a_form_token_is_accepted_once_then_refused_with_a_fresh_one(client, settings):
    settings.DEMO_REQUEST_RATE_LIMIT = (100, 600)
    data = form_data()
    assert client.post("/demo/", data).status_code == 302
    replay = client.post("/demo/", data, REMOTE_ADDR="192.0.2.8")  # another address, same token
    html = replay.content.decode()
    assert replay.status_code == 400 and "This form was sent already" in html
    assert 'value="Ada Lovelace"' in html and data["started"] not in html  # a fresh token to resend
    assert DemoRequest.objects.count() == 1


@contextlib.contextmanager
def _database_down():
    """Point this process's connection at a loopback port where no PostgreSQL listens (as when
    the server is stopped: the connection is refused), then restore it."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_a_post_while_the_database_is_down_answers_503_and_keeps_the_text(client):
    data = form_data(message="Please keep this message.")
    with _database_down():
        response = client.post("/demo/", data)
    html = response.content.decode()
    assert response.status_code == 503, html[:2000]
    assert "our database is unavailable" in html and "Please keep this message." in html
    assert not DemoRequest.objects.exists()
    # Sent again once the database is back, with the token the 503 page gave, it is kept.
    token = html.split('name="started" value="')[1].split('"')[0]
    assert client.post("/demo/", {**data, "started": token}).status_code == 302
    assert DemoRequest.objects.get().message == "Please keep this message."
