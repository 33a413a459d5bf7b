"""JSON log lines carry time, level, logger, message, the request id and the run id."""

import io
import json
import logging

import pytest

from config.observability import context
from config.observability.logs import ContextFilter, json_formatter


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("kb.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_context(captured):
    logger, stream = captured
    request_token = context.request_id.set("req-12345678")
    run_token = context.run_id.set("42")
    try:
        logger.warning("cell %s finished", 3)
    finally:
        context.run_id.reset(run_token)
        context.request_id.reset(request_token)
    logger.info("outside")
    first, second = lines(stream)
    assert first["message"] == "cell 3 finished" and first["level"] == "WARNING"
    assert first["logger"] == "kb.test.json" and first["time"][:2] == "20"
    assert first["request_id"] == "req-12345678" and first["run_id"] == "42"
    assert second["request_id"] == "-" and second["run_id"] == "-"


def test_exceptions_are_kept_in_the_line(captured):
    logger, stream = captured
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("boom")
    (line,) = lines(stream)
    assert "ZeroDivisionError" in line["exc_info"]


@pytest.mark.django_db
def test_responses_carry_a_request_id(client):
    echoed = client.get("/", HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef")
    assert echoed["X-Request-ID"] == "0123456789abcdef0123456789abcdef"
    fresh = client.get("/", HTTP_X_REQUEST_ID="not a valid id\nforged")
    assert len(fresh["X-Request-ID"]) == 32 and "\n" not in fresh["X-Request-ID"]
