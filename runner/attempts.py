"""A run's attempts: the limit on them, sending a run to its queue for its next attempt, and
the hold the current attempt keeps on its run.

Shared by the way through a run (runner.services) and by recovery (runner.recovery): a run is
sent when it is requested and again after a lost worker or a fault, and every write an attempt
makes first checks that the attempt still holds the run.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from .models import Run, RunStatus
from .publishing import send_run

logger = logging.getLogger(__name__)

# A job that killed its worker this many times ends as crashed instead of looping.
MAX_ATTEMPTS = 3


class Superseded(Exception):
    """This attempt no longer holds its run (a later attempt took it over, or it ended): its
    writes are refused, so a run never gets a second set of results."""


def enqueue(run_id: int, queue: str, attempt: int) -> None:
    """Send the run's message; when the broker does not take it the run stays queued for the
    stale-run sweep (runner.recovery.run_requeue_stale), and the caller goes on."""
    try:
        # `attempt`: the attempts the run has now; a message that comes back after a later
        # attempt claimed the run (Redis's visibility timeout) is then recognisably stale.
        send_run(run_id=run_id, queue=queue, attempt=attempt)
    except Exception:
        # Broker down, or not taking messages (a RabbitMQ alarm): the run stays queued and
        # run_requeue_stale sends it later. A message that reached the broker unconfirmed is
        # then sent twice; run_start runs the run once whichever copy comes first.
        logger.exception("Could not queue run %s; it stays queued for the sweep", run_id)
        return
    # The message is in the broker: the sweep leaves this run alone from now on.
    Run.objects.filter(pk=run_id).update(queued_at=timezone.now())


def hold(run: Run, **fields) -> None:
    """Update the run only while this attempt still holds it (and lock the row till the commit);
    Superseded otherwise."""
    held = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempts=run.attempts).update(**fields)
    if not held:
        raise Superseded(f"run {run.pk} is no longer held by attempt {run.attempts}")
