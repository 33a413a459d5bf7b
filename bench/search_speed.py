"""Search speed at 100,000 questions: in-process, production settings (DEBUG off), PostgreSQL.

The corpus is bench/search_corpus.py's (the seeded articles among generated distractors that
share their vocabulary, half of them with a code cell), inserted with bulk_create and indexed
with kb.search_index.search_rebuild (what `manage.py search_reindex` runs); both times are
printed. Then every query of bench/search_queries.py (typos, prefixes, spellings, synonyms,
API names, several words) is searched REPEAT times through the search page's selector, and
each query's last word (as typed so far) through the suggestions' selector: medians and p95.
/robots.txt through the test client is the in-process baseline (ratio page / robots). Each
query is also timed as if the process had never searched its words (the tsquery texts a
process keeps are emptied before each search), and the statements one search sends are
counted (CaptureQueriesContext). The load average is printed before and after.

    .venv/bin/python bench/search_speed.py                      # 100,000 questions
    .venv/bin/python bench/search_speed.py --questions 20000    # quicker
    .venv/bin/python bench/search_speed.py --keep               # keep the database ...
    .venv/bin/python bench/search_speed.py --reuse --keep       # ... and time it again, unbuilt
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_relevance import DB_NAME, setup_database, teardown  # noqa: E402
from bench.support.database import HOST  # noqa: E402
from bench.support.report import log, pct  # noqa: E402

REPEAT = 5


def _timed(fn, repeat: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _forgetting(search):
    """The search after emptying what a process keeps of the words it has searched before."""
    from kb import search_query

    getattr(search_query, "_tsquery_texts", {}).clear()  # an older tree keeps nothing
    return search()


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=150, help="prose words per generated answer")
    parser.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="search what a --keep run left (no build)")
    args = parser.parse_args()
    tmp = setup_database(reuse=args.reuse)
    try:
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from bench.search_corpus import build
        from bench.search_queries import QUERIES
        from kb import selectors
        from kb.search_index import search_rebuild

        if args.reuse:
            from kb.models import Question, SearchLexeme

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE kb_question")
            log(
                f"{Question.objects.count():,} questions, {SearchLexeme.objects.count():,} words in the "
                f"vocabulary: reused from {DB_NAME} (built by an earlier --keep run)"
            )
        else:
            started = time.monotonic()
            build(distractors=args.questions - 5, words=args.words)
            imported = time.monotonic() - started
            counts = search_rebuild()
            indexed = time.monotonic() - started - imported
            log(
                f"{counts['questions']:,} questions ({counts['with_code']:,} with code, "
                f"{args.words} prose words each), "
                f"{counts['words']:,} words in the vocabulary: imported (bulk_create) in {imported:.0f} s, "
                f"indexed (search_rebuild) in {indexed:.0f} s"
            )
        connection.close()
        client = Client(SERVER_NAME=HOST)
        robots = statistics.median(_timed(lambda: client.get("/robots.txt"), 21))
        search_ms, typo_ms, suggest_ms, slowest, statements, cold_ms = [], [], [], [], [], []
        log(f"load average before: {_loadavg()}")
        for query, _ in QUERIES:
            times = _timed(lambda q=query: selectors.search(query=q), REPEAT)
            cold_ms += _timed(lambda q=query: _forgetting(lambda: selectors.search(query=q)), REPEAT)
            with CaptureQueriesContext(connection) as captured:
                selectors.search(query=query)
            statements.append(len(captured))
            search_ms += times
            if selectors.search(query=query).corrected_query:
                typo_ms += times
            slowest.append((statistics.median(times), query))
            prefix = query[: max(2, len(query) - 2)]  # typed so far: the last word unfinished
            suggest_ms += _timed(lambda p=prefix: selectors.search_suggestions(query=p), REPEAT)
        page = statistics.median(_timed(lambda: client.get("/search/", {"q": "recepetive field"}), REPEAT))
        log(
            f"search (selector), {len(QUERIES)} queries x {REPEAT}: "
            f"p50 {statistics.median(search_ms):.1f} ms, "
            f"p95 {pct(search_ms, 0.95):.1f} ms"
        )
        log(
            f"  typo-corrected queries only ({len(typo_ms) // REPEAT}): "
            f"p50 {statistics.median(typo_ms):.1f} ms, "
            f"p95 {pct(typo_ms, 0.95):.1f} ms"
        )
        log(
            f"  each as if this process had never searched its words (tsquery texts forgotten): "
            f"p50 {statistics.median(cold_ms):.1f} ms, p95 {pct(cold_ms, 0.95):.1f} ms"
        )
        log(
            f"suggestions (selector): p50 {statistics.median(suggest_ms):.1f} ms, "
            f"p95 {pct(suggest_ms, 0.95):.1f} ms"
        )
        log(
            f"/search/?q=recepetive+field whole page: p50 {page:.1f} ms; /robots.txt {robots:.2f} ms "
            f"(ratio {page / robots:.0f}x)"
        )
        log(
            f"statements per search: median {statistics.median(statements):.0f}, "
            f"min {min(statements)}, max {max(statements)}"
        )
        log(f"load average after: {_loadavg()}")
        log(
            "slowest queries (median ms): " + ", ".join(f"{q!r} {t:.1f}" for t, q in sorted(slowest)[-5:])
        )
    finally:
        teardown(tmp, args.keep)


if __name__ == "__main__":
    main()
