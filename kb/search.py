"""Search: PostgreSQL full-text search when available, a LIKE fallback on SQLite.

Only what readers can see is searched: published questions, and the text of the answer's
published revision (kb.services.question_reindex is called when a revision is published).

It stays fast as the knowledge base grows: a word that most articles contain would
otherwise rank every match and excerpt each one. So the GIN index finds the matches and counts
them, the newest `MAX_RANKED` of them are ranked (title above summary above body), and only the
page shown gets excerpts. Excerpts are escaped here and only our own <mark> tags
are added, because the document text is the answer's prose and may contain "<script>" as words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Question, Tag
from .search_query import last_rows
from .search_query import plan as search_plan
from .search_synonyms import synonym_rows

MAX_QUERY_CHARS = 200
PAGE_SIZE = 20
MAX_RANKED = 200  # matches ranked per query; more than ten pages of results nobody reads
MAX_COUNTED = 1000  # "more than 1,000 results": counting further reads every matching row
MANY_ESTIMATED = 5000  # estimated matches from which they are neither counted nor all read
WALKED = 3000  # newest questions read to find the newest matches when most questions match
_START, _STOP = "\x02", "\x03"


@dataclass
class SearchResults:
    page: Page  # the questions shown, each with `.highlighted`
    total: int  # every published question that matches, counted up to MAX_COUNTED
    ranked: int  # how many of them were ranked and can be paged through (the newest ones)
    corrected_query: str | None = None  # what was searched instead, when a typo was corrected
    fallback: bool = False  # no article had every word: these have the most of them

    @property
    def capped(self) -> bool:
        return self.ranked < self.total

    @property
    def more_than_counted(self) -> bool:
        """The count stopped at MAX_COUNTED: there are at least that many."""
        return self.total >= MAX_COUNTED


def clean_query(raw: str) -> str:
    text = raw.replace("\x00", " ")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def highlight(fragment: str) -> SafeString:
    # Safe: the text is escaped first; only our own <mark> tags are added.
    return mark_safe(escape(fragment).replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308


# One round trip: the planner hint, then the candidates ranked. Candidates are the best title,
# summary or code matches (the key vector's own GIN index; at most MAX_RANKED; only the best
# title matches, from the titles' own index, when MANY_ESTIMATED or more are expected) and the
# newest MAX_RANKED published matches. A word that most articles contain ("batch") would otherwise
# have the big vector's GIN index gather tens of thousands of rows only to count them and sort
# them by date. So the planner's estimate of the matches (kb_search_matches_estimate, from the
# column's statistics, well under a millisecond) chooses: below MANY_ESTIMATED the index finds
# them, counted up to MAX_COUNTED, and (fewer than that) sorted by date; from either, the reader
# is told "more than MAX_COUNTED" and the newest WALKED published questions are read newest first
# (the (status, -published_at) index) until MAX_RANKED of them match: a few hundred rows
# when so many match. Each candidate's vector is read once (||: detoasted into the CTE) and
# ranked by how many of the query's groups it matches (only the fallback can differ:
# otherwise every candidate has all of them), then ts_rank's default weights: title A above
# summary B above prose C above code D. JIT is off: the cost the planner gives a forbidden
# sequential scan would start compiling the query (30 to 500 ms) to save microseconds. The hints
# and the query form one implicit transaction, so SET LOCAL ends with it.
_RANKED_MATCHES = """
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off;
WITH q AS (SELECT %(query)s::tsquery AS q, %(groups)s::tsquery[] AS groups),
estimate AS MATERIALIZED (
    SELECT kb_search_matches_estimate(q.q, 'search_vector') AS n,
        kb_search_matches_estimate(q.q, 'key_vector') AS key_n FROM q
),
matched AS MATERIALIZED (
    SELECT id, published_at FROM kb_question, q WHERE search_vector @@ q.q AND status = %(published)s
        AND (SELECT n FROM estimate) < %(many)s
    LIMIT %(counted)s
), counted AS (
    SELECT CASE WHEN (SELECT n FROM estimate) < %(many)s THEN count(*) ELSE %(counted)s END AS n FROM matched
), key_hits AS (
    SELECT id FROM kb_question, q WHERE key_vector @@ q.q AND status = %(published)s
        AND (NOT %(excluding)s OR search_vector @@ q.q) AND (SELECT key_n FROM estimate) < %(many)s
    ORDER BY ts_rank(key_vector, q.q) DESC, published_at DESC NULLS LAST, id DESC LIMIT %(limit)s
), title_hits AS (
    SELECT id FROM kb_question, q WHERE ts_filter(key_vector, '{a}') @@ q.q AND status = %(published)s
        AND (NOT %(excluding)s OR search_vector @@ q.q) AND (SELECT key_n FROM estimate) >= %(many)s
    ORDER BY ts_rank(ts_filter(key_vector, '{a}'), q.q) DESC, published_at DESC NULLS LAST, id DESC
    LIMIT %(limit)s
), newest_of_few AS (
    SELECT id FROM matched WHERE (SELECT n FROM counted) < %(counted)s
    ORDER BY published_at DESC NULLS LAST, id DESC LIMIT %(limit)s
), newest_of_many AS (
    SELECT id FROM (
        SELECT id, search_vector, published_at FROM kb_question
        WHERE status = %(published)s AND (SELECT n FROM counted) >= %(counted)s
        ORDER BY status, published_at DESC, id DESC LIMIT %(walked)s
    ) recent, q WHERE ts_match_vq(recent.search_vector, q.q)
    ORDER BY published_at DESC, id DESC LIMIT %(limit)s
), candidates AS MATERIALIZED (
    SELECT kb_question.id, kb_question.published_at, kb_question.search_vector || ''::tsvector AS v
    FROM (
        SELECT id FROM key_hits UNION SELECT id FROM title_hits
        UNION SELECT id FROM newest_of_few UNION SELECT id FROM newest_of_many
    ) c
    JOIN kb_question ON kb_question.id = c.id
)
SELECT candidates.id, (SELECT n FROM counted)
FROM candidates, q
ORDER BY CASE WHEN %(fallback)s THEN (SELECT count(*) FROM unnest(q.groups) g WHERE v @@ g) END DESC,
    ts_rank(v, q.q) DESC, published_at DESC NULLS LAST, id DESC
"""


def _postgres_ranked(
    tsquery: str, groups: list[str], *, excluding: bool, fallback: bool = False
) -> tuple[list[int], int]:
    """(ranked ids, matches counted up to MAX_COUNTED). `excluding`: the query has a -word,
    which the title vector alone cannot check; `fallback`: any group may match, not all."""
    params = {
        "query": tsquery,
        "groups": groups,
        "published": Question.Status.PUBLISHED,
        "limit": MAX_RANKED,
        "counted": MAX_COUNTED,
        "many": MANY_ESTIMATED,
        "walked": WALKED,
        "excluding": excluding,
        "fallback": fallback,
    }
    with connection.cursor() as cursor:
        # Django's psycopg 3 cursors bind parameters client-side, so all the statements travel
        # in one message; the rows are the last one's.
        cursor.execute(_RANKED_MATCHES, params)
        rows = last_rows(cursor)
    return [pk for pk, _ in rows], (rows[0][1] if rows else 0)


# What a result card shows (includes/question_card.html), and its tags in the same statement,
# name order: Django's prefetch would be a second round trip and a manager per row (~5 ms a page).
CARD_FIELDS = ("title", "slug", "summary", "published_at", "search_document")
_TAG_ROWS = """
SELECT coalesce(json_agg(json_build_array(t.id, t.name, t.slug) ORDER BY t.name), '[]')::text
FROM kb_question_tags qt JOIN kb_tag t ON t.id = qt.tag_id WHERE qt.question_id = kb_question.id
"""


def _with_tags(question: Question) -> Question:
    """The question with its tags in place, as prefetch_related would leave them."""
    tags = Tag.objects.all()
    fields = ["id", "name", "slug"]
    tags._result_cache = [
        Tag.from_db(question._state.db, fields, row) for row in json.loads(question.tag_rows)
    ]
    tags._prefetch_done = True
    question._prefetched_objects_cache = {"tags": tags}
    return question


def _postgres_page(questions: QuerySet, ids: list[int], tsquery: str) -> list:
    """The page's questions in rank order, each with an excerpt around its first match.

    ts_headline parses the whole document (~3 ms for 800 words, 20 of them per page), so the
    excerpt is cut here instead, around the words of the parsed query (the lexemes PostgreSQL
    matched: "convolutions" -> 'convolut', which begins the words it stands for).
    """
    tag_rows = RawSQL(_TAG_ROWS, [])  # noqa: S611 (a constant statement, no input)
    rows = questions.filter(pk__in=ids).prefetch_related(None).only(*CARD_FIELDS).annotate(tag_rows=tag_rows)
    by_pk = {row.pk: _with_tags(row) for row in rows}
    page = [by_pk[pk] for pk in ids if pk in by_pk]
    # Lexemes the document may contain: quoted terms not preceded by "!" (the reader's -word).
    terms = [t.replace("''", "'") for t in re.findall(r"(?<!!)'((?:[^']|'')+)'", tsquery)]
    for row in page:
        row.headline = _excerpt(row.search_document, terms)
    return page


def _words(query: str) -> list[str]:
    return [w for w in re.findall(r"\w+", query) if len(w) > 1][:10]


def _excerpt(document: str, words: list[str], width: int = 220) -> str:
    """About `width` characters around the first match, cut between words, never inside one.

    A word matches the words it begins ("pool" marks "pooling"), so stems work as well.
    """
    words = sorted({w for w in words if w}, key=len, reverse=True)
    matching = re.compile("|".join(rf"\b{re.escape(w)}\w*" for w in words), re.I) if words else None
    first = matching.search(document) if matching else None
    start = max(0, first.start() - width // 3) if first else 0
    end = min(len(document), start + width)
    if start > 0 and not document[start - 1].isspace():
        space = document.find(" ", start, end)
        start = space + 1 if space >= 0 else start
    if end < len(document) and not document[end].isspace():
        space = document.rfind(" ", start, end)
        end = space if space > start else end
    excerpt = document[start:end].strip()
    if matching:
        excerpt = matching.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", excerpt)
    return ("…" if start else "") + excerpt + ("…" if end < len(document) else "")


def _fallback_search(questions: QuerySet, query: str) -> tuple[list, bool]:
    """SQLite only serves the one-machine run: substring matching (so a word typed so far
    matches), title first; when no question has every word, those with the most of them."""
    words = _words(query)
    if not words:
        return [], False

    def has(word):
        return Q(title__icontains=word) | Q(summary__icontains=word) | Q(search_document__icontains=word)

    condition = Q()
    for word in words:
        condition &= has(word)
    results = list(questions.filter(condition))
    fallback = not results and len(words) > 1
    if fallback:
        condition = Q()
        for word in words:
            condition |= has(word)
        results = list(questions.filter(condition))
    for question in results:
        text = f"{question.title} {question.summary} {question.search_document}".lower()
        matched = sum(w.lower() in text for w in words)
        in_title = sum(w.lower() in question.title.lower() for w in words)
        question.rank = (
            matched,
            in_title * 10 + sum(question.search_document.lower().count(w.lower()) for w in words),
        )
    results.sort(key=lambda q: (-q.rank[0], -q.rank[1], q.title))
    return results, fallback


def search_questions(
    questions: QuerySet, raw_query: str, *, page_number=1, correct: bool = True
) -> SearchResults | None:
    """One page of ranked questions with `.highlighted` excerpts; None for an empty query.

    On PostgreSQL typos are corrected (unless `correct` is False), spellings and synonyms
    widened and the last word is a prefix (kb.search_query); on SQLite words match as
    substrings. When no article has all the words, those with most of them are shown.
    """
    query = clean_query(raw_query)
    if not query:
        return None
    corrected_query, fallback = None, False
    if connection.vendor == "postgresql":
        # enable_seqscan off: the vectors live in TOAST, so the heap looks small and the planner
        # scans it all, reading every vector (~100 ms at 10,000 questions) where the GIN index
        # answers in a millisecond: its cost model does not count that. For this query only.
        plan = search_plan(query, synonym_rows=synonym_rows(), correct=correct)
        if plan is None:
            return SearchResults(page=Paginator([], PAGE_SIZE).get_page(1), total=0, ranked=0)
        tsquery = plan.tsquery()
        ids, total = _postgres_ranked(tsquery, plan.groups, excluding=bool(plan.excluded))
        if not ids and len(plan.groups) > 1:
            tsquery = plan.tsquery(any_group=True)
            ids, total = _postgres_ranked(tsquery, plan.groups, excluding=bool(plan.excluded), fallback=True)
            fallback = bool(ids)
        if plan.parsed.corrections:
            corrected_query = plan.parsed.shown()
        page = Paginator(ids, PAGE_SIZE).get_page(page_number)
        page.object_list = _postgres_page(questions, list(page.object_list), tsquery)
    else:
        results, fallback = _fallback_search(questions, query)
        ids, total = results, len(results)
        page = Paginator(results, PAGE_SIZE).get_page(page_number)
        for question in page.object_list:
            question.headline = _excerpt(question.search_document, _words(query))
    for question in page.object_list:
        question.highlighted = highlight(question.headline or "")
    return SearchResults(
        page=page, total=total, ranked=len(ids), corrected_query=corrected_query, fallback=fallback
    )
