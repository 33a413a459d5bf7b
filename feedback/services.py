"""Writes of reader feedback: a vote, its reasons and comment, and staff handling comments."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from answers.models import Answer

from .identity import today, voter_hash
from .models import Reason, Vote, VoteReason


class AlreadyExplained(Exception):
    """The reasons of this vote were sent already."""


def vote_record(*, answer: Answer, helpful: bool, address: str) -> Vote | None:
    """Count one vote on the revision readers see now; None if this client voted on it today."""
    day = today()
    voter = voter_hash(answer_id=answer.pk, address=address, day=day)
    try:
        with transaction.atomic():
            return Vote.objects.create(
                answer=answer, revision_id=answer.published_revision_id, helpful=helpful, day=day, voter=voter
            )
    except IntegrityError:  # the unique constraint: one vote per client per answer per day
        return None


@transaction.atomic
def vote_explain(*, vote_id: int, reasons: list[str], comment: str) -> Vote:
    vote = Vote.objects.select_for_update().get(pk=vote_id)
    if vote.explained_at is not None:
        raise AlreadyExplained
    valid = [r for r in dict.fromkeys(reasons) if r in Reason.values]
    VoteReason.objects.bulk_create([VoteReason(vote=vote, reason=r) for r in valid])
    vote.comment = comment.replace("\r\n", "\n").strip()  # browsers send CRLF line breaks
    vote.explained_at = timezone.now()
    vote.save(update_fields=["comment", "explained_at"])
    return vote


def votes_mark_handled(*, votes: QuerySet[Vote], by, handled: bool = True) -> int:
    if handled:
        return votes.filter(handled_at__isnull=True).update(handled_at=timezone.now(), handled_by=by)
    return votes.exclude(handled_at__isnull=True).update(handled_at=None, handled_by=None)
