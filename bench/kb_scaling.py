"""How the public pages and search move as the knowledge base grows: 100, 1,000, 10,000 questions.

In-process (django.test.Client), production settings (DEBUG off), PostgreSQL and Redis, medians
of 11 requests after one warm-up. Each page is measured twice: served from the page cache
(`cached`) and rendered (`miss`: the page-cache generation is bumped before every request, as
after a publish). `/robots.txt` is measured in the same process as the baseline, so the ratio
robots.txt time / page time is the in-process counterpart of the req/s ratio of
bench/article_throughput.py. Queries are counted with CaptureQueriesContext. Search is live.

    .venv/bin/python bench/kb_scaling.py                       # 100, 1000, 10000 questions
    .venv/bin/python bench/kb_scaling.py --sizes 100 1000      # quicker

BENCH_DB_NAME (default kb_scaling) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/13) choose
the database (dropped and created) and the Redis db (emptied) it uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.database import HOST, bench_env, database_drop, fresh_database, redis_flush_bench_db  # noqa: E402
from bench.support.report import fail, log  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "kb_scaling")
REPEAT = 11
PAGES = {
    "search convolution+gradient": "/search/?q=convolution+gradient",
    "search common word (model)": "/search/?q=model",
    "/sitemap.xml": "/sitemap.xml",
    "article": "/questions/synthetic-0/",
    "tag page": "/tags/cnn/",
    "/": "/",
    "/questions/ (question index)": "/questions/",
    "/questions/?sort=title&tag=cnn": "/questions/?sort=title&tag=cnn",
    "/tags/ (tag index)": "/tags/",
    "/feed/": "/feed/",
}


def _timed(client, path: str, before=None) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before is not None:
        before()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, response.status_code, len(queries.captured_queries)


def measure(client, path: str, before=None) -> dict:
    _timed(client, path, before)  # warm-up (and, for `cached`, the page is stored)
    runs = [_timed(client, path, before) for _ in range(REPEAT)]
    statuses = {status for _, status, _ in runs}
    if statuses != {200}:
        fail(f"{path} answered {statuses}")
    return {"ms": statistics.median(ms for ms, _, _ in runs), "queries": max(q for _, _, q in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards, to inspect it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-scaling-"))
    env = bench_env(tmp, db_name=DB_NAME)
    log(
        f"kb scaling: {os.getloadavg()[0]:.2f} load average at the start, nproc {os.cpu_count()}"
    )
    try:
        fresh_database(env, db_name=DB_NAME)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection
        from django.test import Client

        from bench.generate_questions import generate
        from kb.models import Question
        from kb.page_cache import _bump

        client = Client(SERVER_NAME=HOST)
        table: dict[str, dict[int, dict]] = {}
        for size in sorted(args.sizes):
            have = Question.objects.count()
            started = time.monotonic()
            generate(count=size - have)
            log(f"{size} questions ({size - have} generated in {time.monotonic() - started:.0f} s)")
            connection.close()
            robots = measure(client, "/robots.txt")
            table.setdefault("/robots.txt", {})[size] = robots
            for name, path in PAGES.items():
                cached = measure(client, path)
                row = {"cached": cached, "robots": robots["ms"]}
                if not name.startswith("search"):
                    row["miss"] = measure(client, path, before=_bump)
                table.setdefault(name, {})[size] = row
                log(f"    {name:<30} {_cell(row)}")
        log()
        sizes = sorted(args.sizes)
        log(
            "| view | "
            + " | ".join(f"{s:,} questions" for s in sizes)
            + " |\n| --- |"
            + " ---: |" * len(sizes)
        )
        for name, by_size in table.items():
            log(f"| {name} | " + " | ".join(_cell(by_size[s]) for s in sizes) + " |")
        log(
            "\nEach cell: cached median ms [queries] (ratio robots.txt time / page time); "
            "miss: rendered with the page cache bumped before each request."
        )
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # django never set up: nothing open
            pass
        if not args.keep:
            database_drop(DB_NAME)
        redis_flush_bench_db()
        shutil.rmtree(tmp, ignore_errors=True)


def _cell(row: dict) -> str:
    if "cached" not in row:
        return f"{row['ms']:.2f} ms [{row['queries']}q]"
    cached = row["cached"]
    text = f"{cached['ms']:.2f} ms [{cached['queries']}q] ({row['robots'] / cached['ms']:.2f}×)"
    if "miss" in row:
        text += f"; miss {row['miss']['ms']:.1f} ms [{row['miss']['queries']}q]"
    return text


if __name__ == "__main__":
    main()
