"""Readers' "Run again": a fresh run of the published cells, limited per client and in total."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from runner import results as runner_results
from runner import services as runner_services
from runner.engine.specs import cell_to_json

from .cells import parse_answer
from .models import Answer, Reproduction

PER_CLIENT_LIMIT = 3
PER_CLIENT_WINDOW = timedelta(minutes=10)
MAX_IN_FLIGHT = 4
_IN_FLIGHT = ("queued", "running", "waiting_gpu")
# Default reprs carry memory addresses (<Line2D object at 0x7f...>) that differ on every run.
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def _without_addresses(text: str) -> str:
    return _ADDRESS.sub("0x…", text)


class ReproduceRefused(Exception):
    """Why a run could not be started, in words for the reader."""


def _limits_lock() -> None:
    """Serialise the limit checks and the creation of runs-again, so concurrent posts cannot
    all pass the counts before any of them is saved. PostgreSQL: a
    transaction-scoped advisory lock; SQLite (one machine) already serialises writing
    transactions (transaction_mode IMMEDIATE in config/settings.py)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])


_LOCK_ID = 0x6B6272756E  # "kbrun": any constant that no other advisory lock of the site uses


def reproduction_start(*, answer: Answer, client: str) -> Reproduction:
    revision = answer.published_revision
    if revision is None or not answer.published_verified or answer.cell_count == 0:
        raise ReproduceRefused("This answer has no verified code to run again.")
    cells = [cell_to_json(c) for c in parse_answer(revision.body).cells]
    with transaction.atomic():
        _limits_lock()
        since = timezone.now() - PER_CLIENT_WINDOW
        if Reproduction.objects.filter(client=client, created_at__gte=since).count() >= PER_CLIENT_LIMIT:
            minutes = int(PER_CLIENT_WINDOW.total_seconds() // 60)
            raise ReproduceRefused(
                f"You can run answers again {PER_CLIENT_LIMIT} times every {minutes} minutes. "
                "Please try again a little later."
            )
        if Reproduction.objects.filter(run__status__in=_IN_FLIGHT).count() >= MAX_IN_FLIGHT:
            raise ReproduceRefused(
                "Our workers are busy with other readers' runs. Please try again in a minute."
            )
        run = runner_services.run_request(cells=cells, force=True)
        return Reproduction.objects.create(
            answer=answer, revision=revision, run=run, verified_run=answer.published_run, client=client
        )


def reproduction_comparison(*, reproduction: Reproduction) -> list[dict]:
    """Per cell: the verified result, the fresh one, and whether they agree."""
    fresh = runner_results.run_results(run=reproduction.run)
    verified = runner_results.run_results(run=reproduction.verified_run) if reproduction.verified_run else {}
    rows = []
    for cell in reproduction.run.cells:
        index = cell["index"]
        old, new = verified.get(index), fresh.get(index)
        same = None
        if old is not None and new is not None:
            same = (
                old["status"] == new["status"]
                and len(old["figures"]) == len(new["figures"])
                and runner_results.outputs_match(
                    expected=_without_addresses(old["output"]),
                    actual=_without_addresses(new["output"]),
                    tol=cell["options"].get("tol"),
                )
            )
        rows.append({"index": index, "code": cell["code"], "verified": old, "fresh": new, "same": same})
    return rows
