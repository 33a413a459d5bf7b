"""Reads for the staff analytics page."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from .models import ArticleViewDay


def views_per_day(*, days: int = 30, today: date | None = None) -> list[dict]:
    """One row per day for the last `days` days, oldest first, days without views included."""
    today = today or timezone.now().date()
    first = today - timedelta(days=days - 1)
    totals = dict(
        ArticleViewDay.objects.filter(day__gte=first, day__lte=today)
        .values("day")
        .annotate(total=Sum("views"))
        .values_list("day", "total")
    )
    return [{"day": first + timedelta(n), "views": totals.get(first + timedelta(n), 0)} for n in range(days)]


def views_per_article(*, days: int = 30, today: date | None = None, limit: int = 20) -> list[dict]:
    today = today or timezone.now().date()
    rows = (
        ArticleViewDay.objects.filter(day__gt=today - timedelta(days=days), day__lte=today)
        .values("question__title", "question__slug")
        .annotate(views=Sum("views"), visitors=Sum("visitors"))
        .order_by("-views", "question__title")[:limit]
    )
    return [
        {
            "title": r["question__title"],
            "slug": r["question__slug"],
            "views": r["views"],
            "visitors": r["visitors"],
        }
        for r in rows
    ]
