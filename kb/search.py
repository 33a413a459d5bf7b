"""Search: PostgreSQL full-text search when available, a LIKE fallback on SQLite.

Excerpts are escaped here and only our own <mark> tags are added, because the document
text is the answer's prose and may legitimately contain "<script>" as words.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_QUERY_CHARS = 200
_START, _STOP = "\x02", "\x03"


def clean_query(raw: str) -> str:
    text = raw.replace("\x00", " ")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def highlight(fragment: str) -> SafeString:
    # Safe: the text is escaped first; only our own <mark> tags are added.
    return mark_safe(escape(fragment).replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308


def _postgres_search(questions: QuerySet, query: str) -> QuerySet:
    search_query = SearchQuery(query, search_type="websearch", config="english")
    return (
        questions.filter(search_vector=search_query)
        .annotate(
            rank=SearchRank(F("search_vector"), search_query),
            headline=SearchHeadline(
                "search_document",
                search_query,
                config="english",
                start_sel=_START,
                stop_sel=_STOP,
                max_words=35,
                min_words=15,
            ),
        )
        .order_by("-rank", "-published_at")
    )


def _excerpt(document: str, words: list[str], width: int = 220) -> str:
    lowered = document.lower()
    positions = [lowered.find(w.lower()) for w in words if lowered.find(w.lower()) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    excerpt = document[start : start + width]
    for word in sorted(set(words), key=len, reverse=True):
        excerpt = re.sub(re.escape(word), lambda m: f"{_START}{m.group(0)}{_STOP}", excerpt, flags=re.I)
    return ("…" if start else "") + excerpt + ("…" if start + width < len(document) else "")


def _fallback_search(questions: QuerySet, query: str) -> list:
    words = [w for w in re.findall(r"\w+", query) if len(w) > 1][:10]
    if not words:
        return []
    condition = Q()
    for word in words:
        condition &= (
            Q(title__icontains=word) | Q(summary__icontains=word) | Q(search_document__icontains=word)
        )
    results = list(questions.filter(condition))
    for question in results:
        in_title = sum(w.lower() in question.title.lower() for w in words)
        question.rank = in_title * 10 + sum(question.search_document.lower().count(w.lower()) for w in words)
        question.headline = _excerpt(question.search_document, words)
    results.sort(key=lambda q: (-q.rank, q.title))
    return results


def search_questions(questions: QuerySet, raw_query: str):
    """Ranked questions with a `.highlighted` excerpt; empty for an empty query."""
    query = clean_query(raw_query)
    if not query:
        return []
    if connection.vendor == "postgresql":
        results = list(_postgres_search(questions, query))
    else:
        results = _fallback_search(questions, query)
    for question in results:
        question.highlighted = highlight(question.headline or "")
    return results
