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


@dataclass
class Digest:
    owner: object
    since: datetime
    stale: list = field(default_factory=list)
    stopped_passing: list = field(default_factory=list)
    due: list = field(default_factory=list)
    negative_votes: list = field(default_factory=list)
    zero_result_queries: list = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.stale or self.stopped_passing or self.due or self.negative_votes or self.zero_result_queries
        )

    @property
    def subject(self) -> str:
        parts = []
        for count, label in (
            (len(self.stale), "stale"),
            (len(self.stopped_passing), "stopped passing"),
            (len(self.negative_votes), "new negative vote" + ("s" if len(self.negative_votes) != 1 else "")),
            (
                len(self.zero_result_queries),
                "search" + ("es" if len(self.zero_result_queries) != 1 else "") + " with no result",
            ),
        ):
            if count:
                parts.append(f"{count} {label}")
        return "Your weekly answers digest" + (": " + ", ".join(parts) if parts else "")


def digest_for_owner(*, owner, since: datetime) -> Digest:
    owned = Question.objects.filter(owner=owner)
    digest = Digest(owner=owner, since=since)
    digest.stale = list(questions_in_state("stale", owned).order_by("review_due_at"))
    digest.stopped_passing = list(questions_in_state("stopped_passing", owned).select_related("answer"))
    digest.due = list(questions_in_state("due", owned).order_by("review_due_at"))
    digest.negative_votes = list(
        Vote.objects.filter(answer__question__in=owned, helpful=False, created_at__gte=since)
        .select_related("answer__question", "revision")
        .prefetch_related("reasons")
        .order_by("answer__question__title", "-created_at")
    )
    tags = Tag.objects.filter(questions__in=owned.filter(status=Question.Status.PUBLISHED)).distinct()
    digest.zero_result_queries = zero_result_queries(since, tags=list(tags)) if tags else []
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
