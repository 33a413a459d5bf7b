#!/usr/bin/env python
"""Where a cached article's time goes, in-process, against /robots.txt.

    .venv/bin/python bench/cached_page_profile.py              # timings only
    .venv/bin/python bench/cached_page_profile.py --profile    # and cProfile's top functions

Sets up its own database and Redis db as bench/article_throughput.py does (production settings,
the flagship verified by a real worker), then calls the WSGI application directly, as gunicorn
does, with a cookie-less GET (what wrk sends), and reports the median time of each page over
`--requests` calls, alternating the pages for `--rounds` rounds. No sockets and no load
generator: the gap to robots.txt is what the page itself costs. BENCH_DB_NAME (default
kb_profile) and BENCH_REDIS_URL choose the database (dropped and created) and the Redis db.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.article_throughput import ARTICLE_PATH, ROBOTS_PATH, article_published, verify_article  # noqa: E402
from bench.support.database import (  # noqa: E402
    HOST,
    bench_env,
    database_drop,
    fresh_database,
    manage,
    redis_flush_bench_db,
)
from bench.support.report import fail, log  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "kb_profile")
PAGES = {"robots.txt": ROBOTS_PATH, "article": ARTICLE_PATH}


def _environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": HOST,
        "SERVER_PORT": "8000", "HTTP_HOST": HOST, "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "wrk", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
    }  # fmt: skip


def _call(app, path: str) -> tuple[str, bytes]:
    status = []
    body = b"".join(app(_environ(path), lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


def _median_us(app, path: str, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        _call(app, path)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="calls per page per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the article afterwards")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-profile-"))
    env = bench_env(tmp, db_name=DB_NAME)
    try:
        fresh_database(env, db_name=DB_NAME)
        manage(env, "import_articles", "content/")
        if not article_published(env):
            verify_article(env, tmp, 600)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.wsgi import get_wsgi_application

        app = get_wsgi_application()
        for name, path in PAGES.items():
            status, body = _call(app, path)
            _call(app, path)  # the second call is served from the page cache
            log(f"{name}: {status}, {len(body):,} bytes")
            if not status.startswith("200"):
                fail(f"{path} answered {status}")
        log(f"load average {os.getloadavg()[0]:.2f}; medians of {args.requests} calls per page")
        for number in range(1, args.rounds + 1):
            robots = _median_us(app, PAGES["robots.txt"], args.requests)
            article = _median_us(app, PAGES["article"], args.requests)
            log(
                f"  round {number}: robots.txt {robots:.0f} µs, cached article {article:.0f} µs, "
                f"ratio {robots / article:.3f}"
            )
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                _call(app, PAGES["article"])
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(25)
            log(out.getvalue())
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # django never set up: nothing open
            pass
        database_drop(DB_NAME)
        redis_flush_bench_db()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
