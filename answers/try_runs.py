"""Readers' "Edit and run": start a run of one edited cell after the published ones before it.

The engine (runner.tryit) runs the published prefix once, keeps its state warm and forks one
sandboxed child per reader run; this module is the reader-facing half: which cells form the
prefix, the per-client limits, who may read a result, and the result as plain data for the
page (a human status, the verified output beside it and a line diff of the two).

A result belongs to the browser that started it: its record holds a keyed hash of that
browser's CSRF secret (a random cookie, nothing about the reader), checked on every read, so
a token seen by someone else (a shared link, a log line) shows them nothing. Records expire
with the engine's results, after ``settings.TRYIT_RESULT_TTL_S``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from django.conf import settings

from runner import results as runner_results
from runner.engine.specs import cell_to_json

from . import tryit_limits as limits
from .cells import parse_answer
from .datafiles import data_files_of
from .models import Answer
from .review_diff import line_diff

MAX_CODE_CHARS = 20_000
# The engine says "lost" once a run is past its own deadline; this is the last resort should
# its record vanish first: the page then says the run was lost rather than refresh for ever.
DEADLINE_S = 10 * 60
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
HOSTILE_STATUSES = {"timeout", "memory_limit", "output_limit", "crashed"}

_STATUS_TEXT = {
    "passed": "Ran without error.",
    "ran": "Ran without error.",
    "mismatch": "Ran without error.",
    "error": "Your code raised an exception (traceback below).",
    "timeout": "Stopped: your code ran past the time limit of a reader's run.",
    "memory_limit": "Stopped: your code used more memory than a reader's run may.",
    "output_limit": "Stopped: your code printed more output (or drew more figures) than a reader's run may.",
    "crashed": "Stopped: the sandbox process running your code died (killed by a signal or it exited).",
    "skipped": "Not run.",
    "refused": "Not run.",
    "lost": "The run was lost.",
}


class TryRefused(Exception):
    """A post that cannot start a run: ``status`` is the HTTP status, the text is for the reader."""

    def __init__(self, message: str, *, status: int, retry_after_s: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class TryStarted:
    token: str


def _engine():
    """The engine's API, imported when first used (it loads the worker pool's client)."""
    from runner import tryit

    return tryit


def _ttl_s() -> int:
    # Past the engine's own record, which lives for the run's deadline plus the result TTL.
    return int(settings.TRYIT_RESULT_TTL_S) + DEADLINE_S


def owner_of(csrf_secret: str) -> str:
    """Which browser: a keyed hash of its CSRF secret (random, and nothing about the reader)."""
    return hmac.new(settings.SECRET_KEY.encode(), f"tryit|{csrf_secret}".encode(), hashlib.sha256).hexdigest()


def _record_key(token: str) -> str:
    return "tryit:owner:" + hashlib.sha256(token.encode()).hexdigest()


def _runnable_cells(answer: Answer):
    revision = answer.published_revision
    if revision is None or not answer.published_verified:
        raise TryRefused("This answer has no verified code to edit and run.", status=404)
    return parse_answer(revision.body).cells


def try_start(*, answer: Answer, cell_number: int, code: str | None, client: str, owner: str) -> TryStarted:
    """Check the post and the limits, then ask the engine for a run; raises TryRefused."""
    cells = _runnable_cells(answer)
    cell = next((c for c in cells if c.index == cell_number - 1), None)
    if cell is None:
        raise TryRefused(f"This answer has no runnable cell {cell_number}.", status=404)
    if code is None or not code.strip():
        raise TryRefused("There was no code to run: the cell's code box was empty.", status=400)
    if len(code) > MAX_CODE_CHARS:
        raise TryRefused(
            f"The code is {len(code):,} characters long; a reader's run takes at most {MAX_CODE_CHARS:,}.",
            status=413,
        )
    if "\x00" in code:
        raise TryRefused("The code holds a NUL character, which Python source cannot contain.", status=400)
    taken = limits.bucket_take(client=client)
    if not taken.allowed:
        raise TryRefused(
            f"You have run code very often in the last minutes. "
            f"Please wait {taken.retry_after_s} s and run it again.",
            status=429,
            retry_after_s=taken.retry_after_s,
        )
    edited = {**cell_to_json(cell), "code": code.replace("\r\n", "\n"), "expected": None}
    prefix = [cell_to_json(c) for c in cells if c.index < cell.index]
    engine = _engine()
    try:
        token = engine.start_try_run(
            prefix=prefix,
            cell=edited,
            files=data_files_of(question=answer.question),
            profile="reader",
            client=client,
        )
    except engine.TryBusy as busy:
        wait = max(1, int(getattr(busy, "retry_after_s", 5) or 5))
        raise TryRefused(
            f"Our workers are busy with other readers' runs. Please run it again in {wait} s.",
            status=429,
            retry_after_s=wait,
        ) from busy
    except engine.TryUnavailable as down:
        raise TryRefused(
            "Our workers cannot be reached right now, so your code was not run. "
            "Please try again in a minute.",
            status=503,
            retry_after_s=30,
        ) from down
    except ValueError as refused:
        # The engine's own checks of the code (size in bytes, characters): its sentence is for the reader.
        raise TryRefused(str(refused), status=400) from refused
    record = {
        "owner": owner,
        "client": client,
        "answer": answer.pk,
        "cell": cell.index,
        "at": time.time(),
        "code": edited["code"],
    }
    limits.connection().set(_record_key(token), json.dumps(record), ex=_ttl_s())
    return TryStarted(token=token)


def token_is_well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token))


def figure_src(figure: dict) -> str | None:
    data = figure.get("png_base64") or ""
    if not isinstance(data, str) or not _BASE64.match(data):
        return None
    try:
        if not base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4)).startswith(b"\x89PNG"):
            return None
    except (binascii.Error, ValueError):
        return None
    return "data:image/png;base64," + data


def _verified(answer: Answer, index: int) -> dict | None:
    run = answer.published_run
    return runner_results.run_results(run=run).get(index) if run else None


def _charge_once(token: str, client: str) -> None:
    """A run that ended on a limit counts against its client once, however often it is read."""
    if limits.connection().set(_record_key(token) + ":charged", "1", nx=True, ex=_ttl_s()):
        limits.bucket_charge_hostile(client=client)


def try_result(*, token: str, owner: str) -> dict | None:
    """The run as plain data for the page and the script; None when it is not this browser's
    (or never was, or has expired: the three look the same from outside)."""
    if not token_is_well_formed(token):
        return None
    raw = limits.connection().get(_record_key(token))
    record = json.loads(raw) if raw else None
    if record is None or not hmac.compare_digest(record["owner"], owner):
        return None
    answer = Answer.objects.select_related("question", "published_run").filter(pk=record["answer"]).first()
    if answer is None:
        return None
    index = record["cell"]
    base = {
        "cell_number": index + 1,
        "question": answer.question,
        "slug": answer.question.slug,
        "code": record.get("code"),
    }
    result = _engine().read_try_run(token)
    if result is None:
        return {
            **base,
            "state": "expired",
            "done": True,
            "message": "This result has expired: results are kept for a few minutes only. "
            "Run the cell again.",
        }
    if result.get("state") != "done":
        if time.time() - record["at"] > DEADLINE_S:
            return {
                **base,
                "state": "lost",
                "done": True,
                "message": "The run was lost: no worker finished it in time. Please run it again.",
            }
        state = result.get("state") or "queued"
        message = "Waiting for a free worker…" if state == "queued" else "Running your code…"
        return {**base, "state": state, "done": False, "message": message}
    return {**base, **_finished(result, answer=answer, index=index, token=token, client=record["client"])}


def _finished(result: dict, *, answer: Answer, index: int, token: str, client: str) -> dict:
    status = result.get("status") or "crashed"
    if status in HOSTILE_STATUSES:
        _charge_once(token, client)
    stdout = (result.get("stdout") or "").rstrip("\n")  # as the verified outputs are shown
    if status == "prefix_failed" or (result.get("prefix") == "failed" and status not in ("refused", "lost")):
        message = (
            "The published cells before this one did not run this time, so your code was not run. "
            "Please try again."
        )
        detail = result.get("detail") or ""
        return {
            "state": "done",
            "done": True,
            "status": "prefix_failed",
            "ok": False,
            "message": message,
            "detail": detail,
        }
    verified = _verified(answer, index)
    verified_output = (verified or {}).get("output") or ""
    diff = [{"op": line.op, "text": line.text} for line in line_diff(verified_output, stdout)]
    elapsed = result.get("elapsed_ms")
    message = _STATUS_TEXT.get(status, f"Finished: {status}.")
    if isinstance(elapsed, int | float):
        message += f" It took {elapsed:.0f} ms." if elapsed >= 1 else " It took under 1 ms."
    if result.get("detail") and status not in ("passed", "ran", "mismatch"):
        message += f" {result['detail']}"
    return {
        "state": "done",
        "done": True,
        "status": status,
        "ok": status in ("passed", "ran", "mismatch"),
        "ran": status not in ("refused", "lost"),
        "message": message,
        "stdout": stdout,
        "stderr": result.get("stderr") or "",
        "error": result.get("traceback") or result.get("error") or "",
        "figures": [
            {"title": str(f.get("title") or ""), "src": src}
            for f in result.get("figures") or []
            if (src := figure_src(f)) is not None
        ],
        "elapsed_ms": elapsed,
        "prefix": result.get("prefix") or "",
        "verified_output": verified_output,
        "same": verified_output.split() == stdout.split(),
        "diff": diff,
    }


def as_json(view: dict) -> dict:
    """What the script needs: the view without the ORM objects."""
    return {k: v for k, v in view.items() if k not in ("question",)}
