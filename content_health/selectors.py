"""Reads of content health: which published answers need a person's attention, and why.

States (each a queryset of published questions, so they serve as admin list filters too):
- due: the review date falls within CONTENT_REVIEW_DUE_SOON_DAYS (14) from now;
- stale: the review date has passed;
- stopped_passing: the published revision's latest re-verification failed where it had passed
  (Answer.stopped_passing_at, kept by answers.services from the runner's stored runs);
- flagged: a reader voted "No" with "wrong" or "out of date" since the last review;
- runs_differed: a reader's "Run again" of the published revision, since the last review,
  produced an output that differs from the verified one.
The review date is the last review (or the publication, if never reviewed) plus the question's
interval, or the site's default interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from answers.models import Reproduction
from answers.reproduce import reproduction_comparison
from feedback.models import FLAGGING_REASONS, Vote
from kb.models import Question

STATES = [
    ("due", "Due for review"),
    ("stale", "Stale (past its review date)"),
    ("stopped_passing", "Stopped passing"),
    ("flagged", "Readers flagged"),
    ("runs_differed", "Reader runs differed"),
]
STATE_LABELS = dict(STATES)
# A reproduction compared here loads two runs' results: look at the newest ones only.
MAX_REPRODUCTIONS_COMPARED = 500


class ReviewDue(Func):
    """(last review, or publication) + the review interval in days, in the database's own terms."""

    output_field = DateTimeField()

    def __init__(self):
        super().__init__(
            Coalesce(F("reviewed_at"), F("published_at")),
            Coalesce(F("review_interval_days"), Value(settings.CONTENT_REVIEW_INTERVAL_DAYS)),
        )

    def as_sql(self, compiler, connection, **extra):
        (base, base_params), (days, days_params) = (compiler.compile(e) for e in self.source_expressions)
        params = [*base_params, *days_params]
        if connection.vendor == "postgresql":
            return f"({base} + make_interval(days => ({days})::integer))", params
        # SQLite (the one-machine default): its datetime() shifts the stored text by N days.
        return f"datetime({base}, '+' || ({days}) || ' days')", params


def published_with_due() -> QuerySet[Question]:
    return Question.objects.published().annotate(review_due_at=ReviewDue())


def review_due_at(question: Question) -> datetime | None:
    start = question.reviewed_at or question.published_at
    if start is None:
        return None
    return start + timedelta(days=question.review_interval_days or settings.CONTENT_REVIEW_INTERVAL_DAYS)


def _since_review(prefix: str) -> Q:
    """Rows created after the question's last review (all of them if it was never reviewed)."""
    reviewed = f"{prefix}reviewed_at"
    return Q(**{f"{reviewed}__isnull": True}) | Q(created_at__gt=F(reviewed))


def _flagging_votes():
    return Vote.objects.filter(
        _since_review("answer__question__"),
        answer__question=OuterRef("pk"),
        helpful=False,
        reasons__reason__in=FLAGGING_REASONS,
    )


def question_ids_with_differing_runs() -> set[int]:
    reproductions = (
        Reproduction.objects.filter(
            _since_review("answer__question__"),
            answer__question__status=Question.Status.PUBLISHED,
            revision_id=F("answer__published_revision_id"),
        )
        .select_related("run", "verified_run", "answer")
        .order_by("-created_at")[:MAX_REPRODUCTIONS_COMPARED]
    )
    differed = set()
    for reproduction in reproductions:
        question_id = reproduction.answer.question_id
        if question_id in differed or not reproduction.run.is_finished or reproduction.verified_run is None:
            continue
        if any(row["same"] is False for row in reproduction_comparison(reproduction=reproduction)):
            differed.add(question_id)
    return differed


def questions_in_state(state: str, queryset: QuerySet[Question] | None = None) -> QuerySet[Question]:
    queryset = (queryset if queryset is not None else Question.objects.all()).filter(
        status=Question.Status.PUBLISHED
    )
    now = timezone.now()
    if state in ("due", "stale"):
        queryset = queryset.annotate(review_due_at=ReviewDue())
        if state == "stale":
            return queryset.filter(review_due_at__lt=now)
        soon = now + timedelta(days=settings.CONTENT_REVIEW_DUE_SOON_DAYS)
        return queryset.filter(review_due_at__gte=now, review_due_at__lt=soon)
    if state == "stopped_passing":
        return queryset.filter(answer__stopped_passing_at__isnull=False)
    if state == "flagged":
        return queryset.filter(Exists(_flagging_votes()))
    if state == "runs_differed":
        return queryset.filter(pk__in=question_ids_with_differing_runs())
    raise ValueError(f"unknown content-health state {state!r}")


def content_health_summary(*, limit: int = 50) -> list[dict]:
    """Each state with its count and its first questions, for the "Content health" page."""
    rows = []
    for key, label in STATES:
        questions = questions_in_state(key)
        if "review_due_at" not in questions.query.annotations:
            questions = questions.annotate(review_due_at=ReviewDue())
        questions = questions.select_related("owner", "answer").order_by("review_due_at", "pk")
        rows.append(
            {"key": key, "label": label, "count": questions.count(), "questions": list(questions[:limit])}
        )
    return rows


def questions_without_owner() -> QuerySet[Question]:
    return Question.objects.published().filter(owner__isnull=True)
