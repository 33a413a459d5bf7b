"""The search report: how often each normalised query is searched per day, how many results
it found and whether readers opened one. Nothing about who searched is stored.

`zero_result_queries` is also read by the owners' weekly digest.
"""

from __future__ import annotations

import datetime
import re

from django.db import connection
from django.db.models import Max, Min, QuerySet, Sum
from django.utils import timezone

from .models import SearchQueryDay, Tag

MAX_QUERY_CHARS = 200

_UPSERT = """
INSERT INTO kb_searchqueryday (query, day, searches, results, opens) VALUES (%s, %s, 1, %s, 0)
ON CONFLICT (query, day) DO UPDATE
SET searches = kb_searchqueryday.searches + 1, results = excluded.results
"""
_OPEN = "UPDATE kb_searchqueryday SET opens = opens + 1 WHERE query = %s AND day = %s"


def normalise_query(raw: str) -> str:
    """Lower case, one space between words, no NULs: "  BatchNorm  " and "batchnorm" count once."""
    return " ".join(raw.replace("\x00", " ").lower().split())[:MAX_QUERY_CHARS]


def record_search(*, query: str, results: int) -> None:
    """Count one search (an atomic upsert: concurrent searches of the same query all count)."""
    normalised = normalise_query(query)
    if normalised:
        with connection.cursor() as cursor:
            cursor.execute(_UPSERT, [normalised, timezone.localdate(), results])


def record_open(*, query: str) -> bool:
    """Count a result opened from today's search of `query`; False when nobody searched it
    today (a forged link then counts nothing and creates no row)."""
    normalised = normalise_query(query)
    if not normalised:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_OPEN, [normalised, timezone.localdate()])
        return cursor.rowcount > 0


def _since(since: datetime.date | datetime.datetime) -> datetime.date:
    if isinstance(since, datetime.datetime):
        return timezone.localdate(since) if timezone.is_aware(since) else since.date()
    return since


def query_totals(since: datetime.date | datetime.datetime) -> QuerySet:
    """One row per query searched on or after `since`: searches, opens, latest result count."""
    return (
        SearchQueryDay.objects.filter(day__gte=_since(since))
        .values("query")
        .annotate(
            total_searches=Sum("searches"),
            total_opens=Sum("opens"),
            fewest_results=Min("results"),
            most_results=Max("results"),
            last_day=Max("day"),
        )
    )


def _tag_patterns(tags) -> list[re.Pattern]:
    patterns = []
    for tag in tags:
        names = {" ".join(tag.name.lower().split()), tag.slug.lower().replace("-", " "), tag.slug.lower()}
        patterns.extend(re.compile(rf"(?<!\w){re.escape(name)}(?!\w)") for name in names if name)
    return patterns


def query_in_tags(query: str, tags) -> bool:
    """A query belongs to a tag when it names the tag ("pytorch batchnorm" is in "PyTorch")."""
    return any(pattern.search(query) for pattern in _tag_patterns(tags))


def zero_result_queries(
    since: datetime.date | datetime.datetime, tags: QuerySet | list[Tag] | None = None
) -> list[tuple[str, int]]:
    """(query, searches) for every query that found nothing on or after `since`, most
    searched first. With `tags`, only the queries that name one of those tags."""
    rows = (
        SearchQueryDay.objects.filter(day__gte=_since(since), results=0)
        .values("query")
        .annotate(total=Sum("searches"))
        .order_by("-total", "query")
    )
    pairs = [(row["query"], row["total"]) for row in rows]
    if tags is not None:
        patterns = _tag_patterns(tags)
        pairs = [(query, n) for query, n in pairs if any(p.search(query) for p in patterns)]
    return pairs


def top_queries(since, *, limit: int = 50) -> list[dict]:
    return list(query_totals(since).order_by("-total_searches", "query")[:limit])


def unopened_queries(since, *, limit: int = 50) -> list[dict]:
    """Queries that found results but whose results nobody opened, most searched first."""
    rows = query_totals(since).filter(total_opens=0, most_results__gt=0)
    return list(rows.order_by("-total_searches", "query")[:limit])
