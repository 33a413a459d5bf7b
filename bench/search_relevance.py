"""Search relevance: the team's query set (bench/search_queries.py) against the seeded articles
of content/ among generated distractors that share their vocabulary (bench/search_corpus.py).

A query is right when its article is in the top 3. In-process, production settings, PostgreSQL;
the database BENCH_DB_NAME (default kb_search_bench) is dropped and created.

    .venv/bin/python bench/search_relevance.py                  # 3,000 distractors
    .venv/bin/python bench/search_relevance.py --distractors 10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.database import bench_env, database_drop, fresh_database, manage, redis_flush_bench_db  # noqa: E402
from bench.support.report import log  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "kb_search_bench")


def setup_database(*, reuse: bool = False) -> Path:
    """A fresh migrated DB_NAME and Django set up in this process with production settings.

    `reuse`: keep the DB_NAME a `--keep` run left (its questions stay), only migrated forward."""
    tmp = Path(tempfile.mkdtemp(prefix="kb-search-bench-"))
    env = bench_env(tmp, db_name=DB_NAME)
    if reuse:
        redis_flush_bench_db()
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")
    else:
        fresh_database(env, db_name=DB_NAME)
    os.environ.update(env)
    import django

    django.setup()
    return tmp


def teardown(tmp: Path, keep: bool) -> None:
    from django.db import connections

    connections.close_all()
    if not keep:
        database_drop(DB_NAME)
    redis_flush_bench_db()
    shutil.rmtree(tmp, ignore_errors=True)


def top_slugs(query: str, n: int = 3) -> list[str]:
    from kb import selectors

    results = selectors.search(query=query)
    return [q.slug for q in list(results.page.object_list)[:n]] if results else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--distractors", type=int, default=3000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = setup_database()
    try:
        from bench.search_corpus import build
        from bench.search_queries import QUERIES
        from kb.search_index import search_rebuild

        started = time.monotonic()
        build(distractors=args.distractors)
        counts = search_rebuild()
        log(
            f"{counts['questions']} questions ({args.distractors} distractors, "
            f"{counts['with_code']} with code), "
            f"{counts['words']} words, imported and indexed in {time.monotonic() - started:.1f} s"
        )
        right = 0
        for query, slug in QUERIES:
            found = top_slugs(query)
            ok = slug in found
            right += ok
            if not ok:
                log(f"  MISS {query!r}: want {slug}, top 3 {found}")
        log(f"right article in the top 3: {right}/{len(QUERIES)} = {100 * right / len(QUERIES):.1f} %")
    finally:
        teardown(tmp, args.keep)


if __name__ == "__main__":
    main()
