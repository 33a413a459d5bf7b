"""Run a draft's cells while writing it: the answer editor's "Run" and "Run all above and this".

A draft run goes to the `try` queue with the staff profile (settings.TRYIT_LIMITS["staff"]),
not the verification path: it must answer in well under a second, never wait behind a
verification run, and leave nothing behind. It stores nothing in the database and publishes
nothing; the result lives in the try-it store for a few minutes, readable only by the staff member who
started it. Each cell's result is compared with the cell's expected output as a verification
would compare it, with the diff and the one option that would absorb the difference
(answers.output_suggestions). "Use as expected output" writes the run's own output into the
draft, only while the cell's code is still the code that ran.
"""

from __future__ import annotations

import hashlib
import json
import time

from django.conf import settings

from runner.engine.compare import matches
from runner.engine.specs import cell_to_json

from . import tryit_limits as limits
from .cells import parse_answer
from .datafiles import data_files_of
from .limits import answer_size_problem
from .output_suggestions import SuggestionError, apply_suggestion, suggest, with_expected_output
from .review_diff import line_diff
from .try_runs import figure_src, token_is_well_formed

SCOPES = ("cell", "above")
OK_STATUSES = ("passed", "ran", "mismatch")
DEADLINE_S = 10 * 60  # past the engine's own "lost", should its record vanish first
STATUS_LABELS = {
    "passed": "Ran",
    "ran": "Ran",
    "mismatch": "Ran",
    "error": "Raised an exception",
    "timeout": "Stopped: time limit",
    "memory_limit": "Stopped: memory limit",
    "output_limit": "Stopped: output limit",
    "crashed": "Stopped: the sandbox died",
    "refused": "Not run",
    "lost": "Lost",
    "prefix_failed": "Not run",
}


_STORE_DOWN = "The try-it store cannot be reached right now, so the run's result cannot be read. Try again."


class DraftRunRefused(Exception):
    """A request that cannot be done: ``status`` is the HTTP status, the text is for the author."""

    def __init__(self, message: str, *, status: int, retry_after_s: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


def _record_key(token: str) -> str:
    return "draftrun:" + hashlib.sha256(token.encode()).hexdigest()


def _engine():
    from runner import tryit

    return tryit


def _cell_of(parsed, cell_number: int):
    cell = next((c for c in parsed.cells if c.index == cell_number - 1), None)
    if cell is None:
        raise DraftRunRefused(f"The draft has no runnable cell {cell_number}.", status=404)
    return cell


def draft_run_start(*, user, body: str, cell_number: int, scope: str, question=None) -> str:
    """Start running cells 1..cell_number of ``body``; the token to read the result with."""
    if scope not in SCOPES:
        raise DraftRunRefused(f"Unknown run scope {scope!r}: say 'cell' or 'above'.", status=400)
    if problem := answer_size_problem(body):
        raise DraftRunRefused(problem, status=413)
    parsed = parse_answer(body)
    cell = _cell_of(parsed, cell_number)
    before = [e for e in parsed.errors if e.line <= cell.span[1] + 1]
    if before:
        raise DraftRunRefused(
            f"Fix the authoring problem first: line {before[0].line}: {before[0].message}", status=400
        )
    cells = [c for c in parsed.cells if c.index <= cell.index]
    engine = _engine()
    try:
        token = engine.start_try_run(
            prefix=[cell_to_json(c) for c in cells[:-1]],
            cell=cell_to_json(cell),
            files=data_files_of(question=question) if question is not None else (),
            profile="staff",
            client=f"staff:{user.pk}",
            report_prefix=True,
        )
    except engine.TryBusy as busy:
        wait = max(1, int(getattr(busy, "retry_after_s", 5) or 5))
        raise DraftRunRefused(
            f"The try-it workers are all busy. Run it again in {wait} s.", status=429, retry_after_s=wait
        ) from busy
    except engine.TryUnavailable as down:
        raise DraftRunRefused(
            "The try-it workers cannot be reached (their store or the `try` queue is down), so nothing ran.",
            status=503,
            retry_after_s=30,
        ) from down
    except ValueError as refused:
        raise DraftRunRefused(str(refused), status=400) from refused
    record = {
        "user": user.pk,
        "scope": scope,
        "cell": cell.index,
        "at": time.time(),
        "cells": [
            {
                "index": c.index,
                "code": c.code,
                "expected": c.expected,
                "tol": c.options.tol,
                "raises": c.options.raises,
            }
            for c in cells
        ],
    }
    ttl = int(settings.TRYIT_RESULT_TTL_S) + DEADLINE_S
    try:
        limits.connection().set(_record_key(token), json.dumps(record), ex=ttl)
    except engine.TryUnavailable as down:
        raise DraftRunRefused(_STORE_DOWN, status=503, retry_after_s=30) from down
    return token


def _record(user, token: str) -> dict | None:
    if not token_is_well_formed(token):
        return None
    try:
        raw = limits.connection().get(_record_key(token))
    except _engine().TryUnavailable as down:
        raise DraftRunRefused(_STORE_DOWN, status=503, retry_after_s=30) from down
    record = json.loads(raw) if raw else None
    if record is None or record.get("user") != user.pk:
        return None
    return record


def draft_run_result(*, user, token: str) -> dict | None:
    """The run as plain data for the editor; None when it is not this user's (or expired)."""
    record = _record(user, token)
    if record is None:
        return None
    result = _engine().read_try_run(token)
    if result is None:
        return _ended(
            "expired", "This run's result has expired (results are kept a few minutes). Run it again."
        )
    if result.get("state") != "done":
        if time.time() - record["at"] > DEADLINE_S:
            return _ended("lost", "The run was lost: no worker finished it in time. Run it again.")
        state = result.get("state") or "queued"
        progress = result.get("progress") or {"done": 0, "total": len(record["cells"])}
        message = "Waiting for a free worker…" if state == "queued" else "Running…"
        if state == "running" and progress.get("total", 0) > 1:
            message = f"Running: {progress['done']} of {progress['total']} cells done…"
        return {"state": state, "done": False, "message": message, "cells": []}
    return {"state": "done", "done": True, "message": "", "cells": _cells_shown(record, result)}


def _ended(state: str, message: str) -> dict:
    return {"state": state, "done": True, "message": message, "cells": []}


def _cells_shown(record: dict, result: dict) -> list[dict]:
    """Each cell the author asked to see (all of them for "above"), and any that failed before."""
    ran = {c["index"]: c for c in result.get("cells") or []}
    edited = record["cells"][-1]
    ran[edited["index"]] = result
    shown = []
    for cell in record["cells"]:
        done = ran.get(cell["index"])
        if done is None:
            continue  # after a failed cell: the run stopped there
        if cell is edited or record["scope"] == "above" or done.get("status") not in OK_STATUSES:
            shown.append(_cell_view(cell, done))
    return shown


def _cell_view(cell: dict, done: dict) -> dict:
    status = done.get("status") or "crashed"
    stdout = (done.get("stdout") or "").rstrip("\n")
    view = {
        "number": cell["index"] + 1,
        "status": status,
        "label": STATUS_LABELS.get(status, status),
        "ok": status in OK_STATUSES,
        "detail": done.get("detail") or "",
        "stdout": stdout,
        "stderr": done.get("stderr") or "",
        "error": done.get("traceback") or done.get("error") or "",
        "figures": [
            {"title": str(f.get("title") or ""), "src": src}
            for f in done.get("figures") or []
            if (src := figure_src(f)) is not None
        ],
        "elapsed_ms": done.get("elapsed_ms"),
        "expected": cell["expected"],
        "compared": None,
        "diff": [],
        "suggestion": None,
        "can_use_output": False,
    }
    if status == "prefix_failed":
        view["detail"] = "A cell above it failed first, so it did not run."
        return view
    if not view["ok"] or cell.get("raises"):
        return view
    if cell["expected"] is not None:
        same = matches(cell["expected"], stdout, tol=cell["tol"])
        view["compared"] = "matches" if same else "differs"
        if not same:
            view["diff"] = [
                {"op": line.op, "text": line.text} for line in line_diff(cell["expected"], stdout)
            ]
            found = suggest(
                status="mismatch",
                expected=cell["expected"],
                output=stdout,
                code=cell["code"],
                tol=cell["tol"],
            )
            if found is not None:
                view["suggestion"] = {"kind": found.kind, "label": found.label, "reason": found.reason}
    # Offered unless the expected output already matches (an author's "..." stays theirs).
    view["can_use_output"] = bool(stdout.strip()) and view["compared"] != "matches"
    return view


def draft_run_apply(*, user, token: str, body: str, cell_number: int, action: str) -> str:
    """``body`` with the run's output (``use_output``) or its suggestion (``suggestion``)
    written into cell ``cell_number``; refused when the cell's code changed since it ran."""
    record = _record(user, token)
    if record is None:
        raise DraftRunRefused(
            "This run is not yours, or its result has expired. Run the cell again.", status=404
        )
    ran = next((c for c in record["cells"] if c["index"] == cell_number - 1), None)
    if ran is None:
        raise DraftRunRefused(f"Cell {cell_number} was not part of this run.", status=400)
    cell = _cell_of(parse_answer(body), cell_number)
    if cell.code != ran["code"]:
        raise DraftRunRefused(f"Cell {cell_number} changed since it ran: run it again first.", status=409)
    view = next(
        (
            v
            for v in (draft_run_result(user=user, token=token) or {}).get("cells", [])
            if v["number"] == cell_number
        ),
        None,
    )
    if view is None or not view["ok"]:
        raise DraftRunRefused(
            f"Cell {cell_number} did not run cleanly, so it has no output to use.", status=409
        )
    try:
        if action == "use_output":
            return with_expected_output(body, cell_index=cell.index, output=view["stdout"])
        if action == "suggestion":
            found = suggest(
                status="mismatch",
                expected=cell.expected,
                output=view["stdout"],
                code=cell.code,
                tol=cell.options.tol,
            )
            if found is None:
                raise DraftRunRefused(
                    "No option would absorb this difference: it is a real change.", status=409
                )
            return apply_suggestion(body, cell_index=cell.index, suggestion=found)
    except SuggestionError as gone:
        raise DraftRunRefused(str(gone), status=409) from gone
    raise DraftRunRefused(f"Unknown action {action!r}: say 'use_output' or 'suggestion'.", status=400)
