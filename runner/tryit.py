""" "Try it": run a reader's edited cell after the answer's published cells, on the `try` queue.

    token = start_try_run(prefix=cells[:i], cell={"code": edited, "options": cells[i].options},
                          files=answer_files, profile="reader", client=address)
    read_try_run(token)   # None (unknown or expired) or the dict below, as often as you like

``start_try_run(*, prefix, cell, files=(), profile="reader", client="", report_prefix=False) -> str``
    ``prefix``: the cells before the edited one, as published (answers.cells.Cell objects or
    the dicts runner.engine.forkserver._cell_to_job takes); ``cell``: the edited cell, a Cell or
    ``{"code", "options"}`` (options a CellOptions or its dict; only timeout, device, raises
    and seed matter); ``files``: the answer's data files, ``{name: bytes}`` or ``(name, bytes)``
    pairs; ``profile``: "reader" or "staff" (settings.TRYIT_LIMITS); ``client``: who asked, kept
    in the record for the worker's log only. Returns an unguessable token
    (``secrets.token_urlsafe``). Raises ``TryBusy(retry_after_s)`` when TRYIT_MAX_IN_FLIGHT runs
    are in flight, ``TryUnavailable`` when the store or the broker cannot be reached (each bounded
    by a timeout of about two seconds: nothing hangs).

``read_try_run(token) -> dict | None``
    ``{"state": "queued"|"running"|"done", "status", "stdout", "stderr", "error", "traceback",
    "figures": [{"title", "png_base64"}], "displays", "elapsed_ms", "prefix", "detail"}``.
    ``status`` is a CellStatus value ("ran", "error", "timeout", "memory_limit",
    "output_limit", "crashed") or one of TRY_STATUSES: "prefix_failed" (a published cell
    before the edited one failed, so the edited one did not run), "lost" (nothing finished the
    run by its deadline: its worker died), "refused" (the cell asks for what try runs do not
    have, e.g. a GPU). ``detail`` is a sentence for the reader for every status but "ran".
    ``prefix``: "ran" (the published cells ran before it), "failed", or "warm" (their state
    came from a checkpoint kept warm by the worker: runner.engine.checkpoint). While queued or
    running, ``progress`` is ``{"done", "total"}``: the cells finished so far, of all. With
``report_prefix``, a finished run also has ``cells``: one ``{"index", "status", "stdout",
"stderr", "error", "traceback", "figures", "displays", "elapsed_ms", "detail"}`` per prefix cell
that ran, in order (the edited cell's own result is the top level, as without it).

Results live in the try-it store (runner/tryit_store.py: Redis, or bin/run's SQLite file) for
TRYIT_RESULT_TTL_S and nowhere else: a try run never touches the database, the published page
or its verification.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping

from django.conf import settings

from runner.tryit_store import TryBusy, TryUnavailable, store

__all__ = ["TRY_STATUSES", "TryBusy", "TryUnavailable", "read_try_run", "start_try_run"]

TRY_STATUSES = ("prefix_failed", "lost", "refused")
PROFILES = ("reader", "staff")
DEFAULT_TIMEOUT_S = 60.0  # answers.cells.DEFAULT_TIMEOUT_S: a published cell without timeout=
LOST_DETAIL = "The run was lost: the worker running it stopped before it finished. Run it again."


def _options_dict(options) -> dict:
    if options is None:
        return {}
    if isinstance(options, Mapping):
        return dict(options)
    return options.as_dict()


def _prefix_job(prefix: Iterable) -> list[dict]:
    from runner.engine.forkserver import _cell_to_job

    cells = []
    for position, cell in enumerate(prefix):
        job = dict(_cell_to_job(cell))
        job.setdefault("index", position)
        job.setdefault("line", 0)
        job.setdefault("expected", None)
        job["options"] = {"timeout": DEFAULT_TIMEOUT_S, **_options_dict(job.get("options"))}
        cells.append(job)
    return cells


def _edited_job(cell, index: int, *, timeout_s: float) -> dict:
    if isinstance(cell, Mapping):
        code, options = cell.get("code"), cell.get("options")
    else:
        code, options = cell.code, cell.options
    if not isinstance(code, str):
        raise ValueError("the edited cell has no code")
    options = _options_dict(options)
    # Only what the reader's run needs: nothing is compared, so no expected output or tolerance.
    options = {key: options[key] for key in ("device", "raises", "seed") if key in options}
    options["timeout"] = timeout_s
    return {"index": index, "line": 0, "code": code, "options": options, "expected": None}


def _files_job(files) -> dict[str, str]:
    import base64

    pairs = files.items() if isinstance(files, Mapping) else files
    return {str(name): base64.b64encode(bytes(data)).decode() for name, data in pairs}


def limits_for(profile: str) -> dict:
    if profile not in PROFILES:
        raise ValueError(f"unknown try-it profile {profile!r}")
    return dict(settings.TRYIT_LIMITS[profile])


def run_deadline_s(cells: list[dict], limits: dict) -> float:
    """Seconds after which nothing will finish the run: its wall-time limit, the sandbox's
    set-up and the grace for a busy queue."""
    from runner.engine.protocol import Limits
    from runner.engine.supervisor import answer_timeout

    return answer_timeout(cells, Limits(**limits)) + Limits().setup_timeout_s + settings.TRYIT_LOST_GRACE_S


def start_try_run(
    *, prefix, cell, files=(), profile: str = "reader", client: str = "", report_prefix: bool = False
) -> str:
    """Raises ValueError, with a sentence for the reader, for input no run should take.
    ``report_prefix``: the result's ``cells`` also holds each prefix cell's own result (the
    answer editor's "Run all above and this")."""
    limits = limits_for(profile)
    cell_timeout_s = limits.pop("cell_timeout_s")
    cells = _prefix_job(prefix)
    cells.append(_edited_job(cell, index=len(cells), timeout_s=cell_timeout_s))
    token = secrets.token_urlsafe(24)
    now = time.time()
    deadline = now + run_deadline_s(cells, limits)
    wants_gpu = any(c["options"].get("device", "cpu") != "cpu" for c in cells)
    if wants_gpu and not settings.TRYIT_ALLOW_GPU:
        store().put_result(
            token,
            _done(
                status="refused",
                detail="This answer needs a GPU; try-it runs have none here.",
                prefix="failed",
            ),
        )
        return token
    if len(cells[-1]["code"].encode()) > settings.TRYIT_MAX_CODE_BYTES:
        raise ValueError(
            f"The cell is too long to run: at most {settings.TRYIT_MAX_CODE_BYTES // 1024} KiB of code."
        )
    if "\x00" in cells[-1]["code"]:
        raise ValueError("The cell holds a NUL character, which Python code cannot contain.")
    job = {
        "cells": cells,
        "files": _files_job(files),
        "limits": limits,
        "profile": profile,
        "client": client[:200],
        "report_prefix": bool(report_prefix),
    }
    store().open(token, deadline=deadline, job=json.dumps(job))
    try:
        from runner.publishing import send_try_run

        send_try_run(token=token)
    except Exception as exc:
        store().discard(token)
        raise TryUnavailable("Try-it runs are unavailable right now (the queue cannot be reached).") from exc
    return token


def _done(*, status: str, detail: str, prefix: str) -> dict:
    return {
        "state": "done", "status": status, "stdout": "", "stderr": "", "error": "", "traceback": "",
        "figures": [], "displays": [], "elapsed_ms": 0, "prefix": prefix, "detail": detail,
    }  # fmt: skip


def read_try_run(token: str) -> dict | None:
    if not isinstance(token, str) or not token or len(token) > 64:
        return None
    record = store().read(token)
    if record is None:
        return None
    if record["state"] != "done" and time.time() > record["deadline"]:
        store().release(token)
        return _done(status="lost", detail=LOST_DETAIL, prefix="failed")
    if record["state"] == "done":
        return record["result"]
    return _pending(record["state"], record["progress"])


def _pending(state: str, progress: dict | None) -> dict:
    result = _done(status="", detail="", prefix="")
    result["state"] = state
    # Published cells finished so far, while they run before the edited one.
    result["progress"] = progress or {"done": 0, "total": 0}
    return result
