"""Reads of reader feedback for staff: per answer, the helpful ratio over time and by revision,
the reasons given, and the comments."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from answers.models import Answer

from .models import Reason, Vote, VoteReason

REPORT_WEEKS = 12


def _ratio_rows(rows) -> list[dict]:
    for row in rows:
        row["ratio"] = row["helpful_votes"] / row["votes"] if row["votes"] else None
        row["percent"] = round(100 * row["ratio"]) if row["ratio"] is not None else None
    return rows


def _counts():
    return {"votes": Count("pk"), "helpful_votes": Count("pk", filter=Q(helpful=True))}


def answer_feedback_report(*, answer: Answer, weeks: int = REPORT_WEEKS) -> dict:
    votes = Vote.objects.filter(answer=answer)
    since = timezone.now() - timedelta(weeks=weeks)
    by_week = _ratio_rows(
        list(
            votes.filter(created_at__gte=since)
            .annotate(week=TruncWeek("created_at"))
            .values("week")
            .annotate(**_counts())
            .order_by("-week")
        )
    )
    by_revision = _ratio_rows(
        list(votes.values("revision__number").annotate(**_counts()).order_by("-revision__number"))
    )
    labels = dict(Reason.choices)
    reasons = [
        {"reason": row["reason"], "label": labels.get(row["reason"], row["reason"]), "count": row["count"]}
        for row in VoteReason.objects.filter(vote__answer=answer)
        .values("reason")
        .annotate(count=Count("pk"))
        .order_by("-count", "reason")
    ]
    total = votes.aggregate(**_counts())
    return {
        "total": _ratio_rows([total])[0],
        "by_week": by_week,
        "by_revision": by_revision,
        "reasons": reasons,
        "comments": list(
            votes.exclude(comment="")
            .select_related("revision", "handled_by")
            .prefetch_related("reasons")[:50]
        ),
        "unhandled_comments": votes.exclude(comment="").filter(handled_at__isnull=True).count(),
    }
