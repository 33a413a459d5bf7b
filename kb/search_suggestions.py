"""Titles suggested under the search box as the reader types (the last word a prefix).

Cheap by construction: only the title's lexemes are read (weight A of the key vector, their
own GIN index); at most
MAX_CANDIDATES matches are ranked, no typo correction, and only published questions.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from .models import Question
from .search import clean_query
from .search_query import last_rows, plan
from .search_synonyms import synonym_rows

MAX_SUGGESTIONS = 8
MIN_CHARS = 2
MAX_CANDIDATES = 300

# The title lexemes' own partial GIN index (migration kb 0010) finds the published titles; JIT is
# off, as for search (kb.search).
_SUGGEST = """
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off;
WITH q AS (SELECT %(query)s::tsquery AS q),
hits AS MATERIALIZED (
    SELECT id, title, slug, ts_filter(key_vector, '{a}') AS title_vector, published_at FROM kb_question, q
    WHERE ts_filter(key_vector, '{a}') @@ q.q AND status = %(published)s
    LIMIT %(candidates)s
)
SELECT title, slug FROM hits, q
ORDER BY ts_rank(title_vector, q.q) DESC, published_at DESC NULLS LAST, id DESC
LIMIT %(limit)s
"""


def suggest_titles(raw_query: str) -> list[dict]:
    query = clean_query(raw_query)
    if len(query) < MIN_CHARS:
        return []
    if connection.vendor == "postgresql":
        searched = plan(query, synonym_rows=synonym_rows(), correct=False)
        if searched is None:
            return []
        params = {
            "query": searched.tsquery(),
            "published": Question.Status.PUBLISHED,
            "candidates": MAX_CANDIDATES,
            "limit": MAX_SUGGESTIONS,
        }
        with connection.cursor() as cursor:
            cursor.execute(_SUGGEST, params)
            rows = last_rows(cursor)
    else:
        condition = Q()
        for word in query.split()[:10]:
            condition &= Q(title__icontains=word)
        rows = Question.objects.published().filter(condition).values_list("title", "slug")[:MAX_SUGGESTIONS]
    return [{"title": title, "url": Question(slug=slug).get_absolute_url()} for title, slug in rows]
