"""What content health and reader feedback cost as the knowledge base grows.

In-process (django.test.Client), production settings (DEBUG off), PostgreSQL and Redis, medians
and p95 of 11 requests after one warm-up: the admin's "Content health" page, the question list
filtered by a state, one owner's digest being built (no e-mail sent), and a reader's vote (a
fresh client address each time, so every post is counted). Questions are spread over 400 days
of publication so that about half are stale and some are due; 2 % of answers get a "No" vote
with "wrong". `/robots.txt` is measured in the same process as the baseline.

    .venv/bin/python bench/content_health.py                   # 1,000 and 10,000 questions
    .venv/bin/python bench/content_health.py --sizes 1000      # quicker

BENCH_DB_NAME (default kb_content_health) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/13)
choose the database (dropped and created) and the Redis db (emptied) it uses.
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

DB_NAME = os.environ.get("BENCH_DB_NAME", "kb_content_health")
REPEAT = 11


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)]}


def _measure(action) -> dict:
    action()  # warm-up
    samples = []
    for n in range(REPEAT):
        started = time.perf_counter()
        action(n)
        samples.append((time.perf_counter() - started) * 1000)
    return _stats(samples)


def _spread_and_flag(owner) -> None:
    from django.db import connection

    from answers.models import Answer
    from feedback.models import VoteReason
    from feedback.services import vote_record

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE kb_question SET owner_id = %s,"
            " published_at = now() - make_interval(days => (id %% 400)::integer)",
            [owner.pk],
        )
    for n, answer in enumerate(Answer.objects.order_by("pk")[::50]):
        vote = vote_record(answer=answer, helpful=False, address=f"10.9.{n // 250}.{n % 250}")
        if vote is not None and not vote.reasons.exists():
            VoteReason.objects.create(vote=vote, reason="wrong")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-health-"))
    env = bench_env(tmp, db_name=DB_NAME)
    log(f"content health: {os.getloadavg()[0]:.2f} load average at the start, nproc {os.cpu_count()}")
    try:
        fresh_database(env, db_name=DB_NAME)
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.utils import timezone

        from bench.generate_questions import generate
        from content_health.digest import DIGEST_PERIOD, digest_for_owner
        from kb.models import Question

        owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-Owner-123")
        staff = Client(SERVER_NAME=HOST)
        staff.force_login(owner)
        rows = []
        for size in sorted(args.sizes):
            have = Question.objects.count()
            started = time.monotonic()
            generate(count=size - have, words=60)
            _spread_and_flag(owner)
            log(f"{size} questions ({size - have} generated in {time.monotonic() - started:.0f} s)")
            reader = Client(SERVER_NAME=HOST)

            def get(path, client=staff):
                def action(n=None):
                    response = client.get(path)
                    if response.status_code != 200:
                        fail(f"{path} answered {response.status_code}")

                return action

            def vote(n=None, _size=size):
                address = f"10.{_size % 250}.{(n or 0) // 250}.{(n or 0) % 250 + 1}"
                response = Client(SERVER_NAME=HOST, REMOTE_ADDR=address).post(
                    "/questions/synthetic-3/feedback/", {"helpful": "yes"}
                )
                if response.status_code != 302:
                    fail(f"vote answered {response.status_code}")

            def digest(n=None):
                digest_for_owner(owner=owner, since=timezone.now() - DIGEST_PERIOD)

            measured = {
                "/robots.txt (baseline)": _measure(get("/robots.txt", reader)),
                "Content health page": _measure(get("/admin/kb/question/content-health/")),
                "question list ?health=stale": _measure(get("/admin/kb/question/?health=stale")),
                "question list ?health=flagged": _measure(get("/admin/kb/question/?health=flagged")),
                "one owner's digest (built, not sent)": _measure(digest),
                "reader's vote (POST)": _measure(vote),
            }
            rows.append((size, measured))
            for name, stats in measured.items():
                log(f"    {name:<40} p50 {stats['p50']:8.1f} ms   p95 {stats['p95']:8.1f} ms")
        log()
        log("| view | " + " | ".join(f"{s:,} questions (p50 / p95 ms)" for s, _ in rows) + " |")
        log("| --- |" + " ---: |" * len(rows))
        for name in rows[0][1]:
            cells = " | ".join(f"{m[name]['p50']:.1f} / {m[name]['p95']:.1f}" for _, m in rows)
            log(f"| {name} | {cells} |")
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
