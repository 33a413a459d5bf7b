"""What the current log line is about: the request being served, the run being executed."""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
run_id: ContextVar[str] = ContextVar("run_id", default="-")
