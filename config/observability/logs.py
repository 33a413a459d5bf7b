"""JSON log lines with the request id and run id of the context they were written in."""

import logging

from pythonjsonlogger.json import JsonFormatter

from . import context


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        record.run_id = context.run_id.get()
        return True


def json_formatter() -> JsonFormatter:
    """One JSON object per line: time, level, logger, message, request_id, run_id (+ exc_info)."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(run_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
