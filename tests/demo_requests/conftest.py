"""Fixtures for demo requests: a real SMTP server and a second Redis broker on loopback."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

import pytest
from django.core.cache import cache

from demo_requests.spam import time_token_issue
from tests.support.brokers import free_port


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


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; the inbox has a `port`."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


