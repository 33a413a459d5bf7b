"""The weekly digest each owner receives: what of theirs needs attention, in one e-mail.

Sent only to owners with something to report (an empty digest every Monday teaches people to
ignore it). Each section lists the owner's published answers: stale ones, ones that stopped
passing, ones due for review soon, readers' new "No" votes with their reasons and comments, and
the searches of the week that found nothing and name one of the owner's tags.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from feedback.models import Vote
from kb.models import Question, Tag
from kb.search_report import zero_result_queries

from .selectors import questions_in_state

logger = logging.getLogger(__name__)

DIGEST_PERIOD = timedelta(days=7)
# An owner of thousands of answers gets the first ones of each section and the count; the
# "Content health" page has the rest.
SECTION_MAX = 25


@dataclass
class Digest:
    owner: object
    since: datetime
    stale: list = field(default_factory=list)
    stopped_passing: list = field(default_factory=list)
    due: list = field(default_factory=list)
    negative_votes: list = field(default_factory=list)
    zero_result_queries: list = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(self.totals.values())

    @property
    def subject(self) -> str:
        parts = []
        votes, searches = self.totals.get("negative_votes", 0), self.totals.get("zero_result_queries", 0)
        for count, label in (
            (self.totals.get("stale", 0), "stale"),
            (self.totals.get("stopped_passing", 0), "stopped passing"),
            (votes, "new negative vote" + ("s" if votes != 1 else "")),
            (searches, "search" + ("es" if searches != 1 else "") + " with no result"),
        ):
            if count:
                parts.append(f"{count} {label}")
        return "Your weekly answers digest" + (": " + ", ".join(parts) if parts else "")


def digest_for_owner(*, owner, since: datetime) -> Digest:
    owned = Question.objects.filter(owner=owner)
    digest = Digest(owner=owner, since=since)
    sections = {
        "stale": questions_in_state("stale", owned).order_by("review_due_at"),
        "stopped_passing": questions_in_state("stopped_passing", owned).order_by("title"),
        "due": questions_in_state("due", owned).order_by("review_due_at"),
        "negative_votes": Vote.objects.filter(
            answer__question__in=owned, helpful=False, created_at__gte=since
        )
        .select_related("answer__question", "revision")
        .prefetch_related("reasons")
        .order_by("answer__question__title", "-created_at"),
    }
    for name, rows in sections.items():
        setattr(digest, name, list(rows[:SECTION_MAX]))
        digest.totals[name] = (
            rows.count() if len(getattr(digest, name)) == SECTION_MAX else len(getattr(digest, name))
        )
    tags = list(Tag.objects.filter(questions__in=owned.filter(status=Question.Status.PUBLISHED)).distinct())
    queries = zero_result_queries(since, tags=tags) if tags else []
    digest.zero_result_queries, digest.totals["zero_result_queries"] = queries[:SECTION_MAX], len(queries)
    return digest


def _owners():
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, owned_questions__status=Question.Status.PUBLISHED)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def digest_send(*, digest: Digest) -> None:
    body = render_to_string("content_health/digest.txt", {"digest": digest, "site_url": settings.SITE_URL})
    send_mail(
        subject=digest.subject[:150],
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[digest.owner.email],
    )


def digests_send(*, now: datetime | None = None, period: timedelta = DIGEST_PERIOD) -> int:
    """E-mail every owner their digest of the past `period`; returns how many were sent."""
    since = (now or timezone.now()) - period
    sent = 0
    for owner in _owners():
        digest = digest_for_owner(owner=owner, since=since)
        if digest.is_empty:
            continue
        try:
            digest_send(digest=digest)
        except Exception:  # one unreachable mailbox must not keep the others' digests back
            logger.exception("could not send the weekly digest to user %s", owner.pk)
            continue
        sent += 1
    return sent
