"""Reads for the demo request pages, the admin export and the analytics dashboard."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from kb.models import Question

from .models import DemoRequest


def source_question_get(*, slug: str) -> Question | None:
    if not slug:
        return None
    return Question.objects.published().filter(slug=slug).only("title", "slug").first()


def demo_requests_for_export(*, queryset: QuerySet) -> QuerySet:
    return queryset.select_related("source_question").order_by("created_at", "pk")


def demo_requests_per_source(*, days: int = 30) -> list[dict]:
    """Demo requests per source article over the last `days`, most first ("" = no article)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        DemoRequest.objects.filter(created_at__gte=since)
        .values("source_question__title", "source_slug")
        .annotate(requests=Count("pk"))
        .order_by("-requests", "source_slug")
    )
    return [
        {
            "title": row["source_question__title"] or row["source_slug"] or "",
            "slug": row["source_slug"],
            "requests": row["requests"],
        }
        for row in rows
    ]
