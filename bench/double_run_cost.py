#!/usr/bin/env python
"""What running a new revision twice costs: time from save to verified for the
seeded articles in content/, with the second, independent run and without it.

Run from the repository root:

    .venv/bin/python bench/double_run_cost.py [--rounds 2]

One run: creates the PostgreSQL database kb_bench_i12 and migrates it, starts one Celery
worker (queue cpu, concurrency 1: its process holds both fork servers, hash seeds 0 and 1),
then for each round and each article in content/ asks for a run of the article's cells exactly
as answer_save does (parsed cells with their approvals, through runner.services.run_request)
with twice=False and with twice=True, in alternating order, after deleting every earlier run
so the execution-key cache never answers. It times request -> run finished (verified or
failed: the time counts either way) and prints per article the medians and the ratio. The
worker, the database and the bench Redis db are cleaned up whatever happens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.database import bench_env, database_create, database_drop, manage, redis_flush  # noqa: E402
from bench.support.processes import celery_worker_command, start_logged, stop_session, wait_for_log  # noqa: E402
from bench.support.report import log  # noqa: E402

DB_NAME = "kb_bench_i12"
REDIS = "redis://127.0.0.1:6379/1"  # this helper's own Redis db (do not run with its tests)


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    command = celery_worker_command(
        "-Q", "cpu", "--pool", "prefork", "--concurrency", "1", "--hostname", "bench-i12@bench",
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    )  # fmt: skip
    worker = start_logged(command, log=log_path, env=env)
    wait_for_log(worker, log_path, timeout=240, poll=0.5, what="worker")
    return worker


def measure(rounds: int) -> None:
    import django

    django.setup()
    from answers.cells import parse_answer
    from answers.importing import read_article
    from runner.engine.specs import cell_to_json
    from runner.models import Run
    from runner.services import run_request

    articles = [read_article(path) for path in sorted((ROOT / "content").glob("*.md"))]
    times: dict[tuple[str, bool], list[float]] = {}
    statuses: dict[tuple[str, bool], list[str]] = {}
    for round_number in range(rounds):
        for article in articles:
            cells = [cell_to_json(c) for c in parse_answer(article.body).cells]
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for twice in order:
                Run.objects.all().delete()  # no cached run for this key
                started = time.perf_counter()
                run = run_request(cells=cells, twice=twice)
                while True:
                    run.refresh_from_db(fields=["status"])
                    if run.is_finished:
                        break
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                times.setdefault((article.slug, twice), []).append(elapsed)
                statuses.setdefault((article.slug, twice), []).append(run.status)
                log(f"  round {round_number + 1} {article.slug:28} {'twice' if twice else 'once '} "
                    f"{elapsed:7.2f} s  {run.status}  load {os.getloadavg()[0]:.2f}")  # fmt: skip
    log("")
    log("| article | cells | once (median) | twice (median) | twice / once | statuses once / twice |")
    log("|---|---:|---:|---:|---:|---|")
    total_once = total_twice = 0.0
    for article in articles:
        once = statistics.median(times[(article.slug, False)])
        twice = statistics.median(times[(article.slug, True)])
        total_once += once
        total_twice += twice
        count = len(parse_answer(article.body).cells)
        log(
            f"| {article.slug} | {count} | {once:.2f} s | {twice:.2f} s | {twice / once:.2f}x | "
            f"{'/'.join(statuses[(article.slug, False)])} / {'/'.join(statuses[(article.slug, True)])} |"
        )
    log(f"| all five | | {total_once:.2f} s | {total_twice:.2f} s | {total_twice / total_once:.2f}x | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.rounds)
        return
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-i12-"))
    env = bench_env(tmp)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        CELERY_BROKER_URL=REDIS,
        REDIS_URL=REDIS,
    )
    log(f"load average before: {os.getloadavg()}  nproc: {os.cpu_count()}")
    database_create(DB_NAME)
    worker = None
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        worker = start_worker(env, tmp / "worker.log")
        subprocess.run(
            [sys.executable, __file__, "--measure", "--rounds", str(args.rounds)],
            cwd=ROOT,
            env=env,
            check=True,
        )
    finally:
        if worker is not None:
            stop_session(worker)
        database_drop(DB_NAME)
        redis_flush(REDIS)
        log(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
