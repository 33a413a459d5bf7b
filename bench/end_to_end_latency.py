#!/usr/bin/env python
"""End-to-end latency of a trivial torch cell through a real Celery worker.

Run from the repository root:

    .venv/bin/python bench/end_to_end_latency.py [--runs 50] [--pools prefork,solo]

One run:
  1. drops and creates the PostgreSQL database kb_bench_e2e and migrates it, adds two
     benchmark-only triggers that NOTIFY when a runner_run status changes or a runner_runcell
     row is written, and flushes Redis db 12 (the broker of this benchmark);
  2. for each pool (prefork, then solo): starts `celery -A config worker -Q cpu --pool POOL
     --concurrency 1` with DJANGO_DEBUG=1, DATABASE_URL and CELERY_BROKER_URL pointing at them,
     waits for its "ready." line, runs a few warm-up answers, then N answers of one cell
     (`import torch` / `torch.ones(3).sum()`), one after the other: each is queued by calling
     runner.services.run_request(cells=..., force=True) on a fresh cell list (its transaction
     commits, then the job is published), and timed until the cell's RunCell row and the run's
     final status are committed; prints median and p90, a breakdown, and the worker's memory.
     This machine is shared: an answer during which processes other than this benchmark,
     PostgreSQL and Redis used more than 0.25 cores is marked disturbed, and answers go on
     until N undisturbed ones were measured (at most 3N in all); the figures are given for
     the undisturbed answers (when there are at least 10) and for all of them;
  3. when an end-to-end median is above the 25 ms target (or with --profile always): runs the
     same answers through a worker started by this script with timing hooks (the same code,
     wrapped: Celery signals, runner.services, Django's connect, psycopg's execute and
     commit), once more as a what-if with CELERY_DB_REUSE_MAX set in that worker (the DB
     connection kept between tasks), and through a fork server with timing hooks in its
     sandbox steps, and prints where the time goes;
  4. runs the same cell with nbclient in a fresh Jupyter kernel (python3, the venv's ipykernel)
     and with `python -c` in a fresh interpreter, and prints the ratios;
  5. stops the workers and drops the database, whatever happened.

How the end is timed: the benchmark LISTENs on a PostgreSQL channel and the triggers call
pg_notify(). PostgreSQL delivers a notification when the writing transaction commits, so the
moment the benchmark receives it is the moment the result became visible to any reader,
without polling (a poll loop would add up to its interval and compete for the 2 cores). The
payload also carries clock_timestamp() of the row's write, which gives the commit's own cost.
Worker-side marks (probe mode) use time.time(): everything runs on one machine, one clock.

The parts are in bench/end_to_end/ (its __init__ lists them); the set-up shared with the other
benches (database, Redis, workers, the machine's load, timing figures) is in bench/support/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.end_to_end.alternatives import nbclient_runs, python_c_runs  # noqa: E402
from bench.end_to_end.answers import Publishes, measure_pool  # noqa: E402
from bench.end_to_end.database import TRIGGERS_SQL, Listener  # noqa: E402
from bench.end_to_end.params import (  # noqa: E402
    BROKER_URL,
    DATABASE_URL,
    DB_NAME,
    PROBE_LOG_ENV,
    PYTHON_C,
    REUSE_DB_ENV,
    TARGET_MS,
)
from bench.end_to_end.probe_forkserver import forkserver_profile, probe_forkserver  # noqa: E402
from bench.end_to_end.probe_worker import probe_worker, report_probe_worker  # noqa: E402
from bench.end_to_end.report import report_pool, report_summary  # noqa: E402
from bench.support.database import database_create, database_drop, redis_flush  # noqa: E402
from bench.support.machine import cpu_model, wait_for_quiet  # noqa: E402
from bench.support.report import stats_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="undisturbed answers to measure per pool (50)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up answers per worker (5)")
    parser.add_argument("--gap", type=float, default=0.25,
                        help="seconds between two answers, so the previous job is acknowledged (0.25)")
    parser.add_argument("--pools", default="prefork,solo", help="Celery pools to measure (prefork,solo)")
    parser.add_argument("--nbclient-runs", type=int, default=5)
    parser.add_argument("--python-runs", type=int, default=5)
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                        help="profile where the time goes: when a median misses the target (auto)")
    parser.add_argument("--profile-runs", type=int, default=25)
    parser.add_argument("--max-factor", type=int, default=3,
                        help="measure at most runs x this many answers while waiting for undisturbed ones")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-e2e-"))
    env = dict(os.environ)
    for name in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", PROBE_LOG_ENV, REUSE_DB_ENV):
        env.pop(name, None)
    env.update(
        DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=BROKER_URL, KB_VAR_DIR=str(tmp / "var"), MEDIA_ROOT=str(tmp / "media"),
    )
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    started = dt.datetime.now(dt.UTC)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    print(f"end-to-end cell latency, {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine: nproc {os.cpu_count()}, CPU {cpu_model()}, Linux {platform.release()}, "
          f"Python {platform.python_version()}; code {head.stdout.strip()}"
          f"{' + uncommitted changes' if dirty else ''}")
    print(f"database {DATABASE_URL} (created for this run), broker {BROKER_URL} (flushed)")

    listener = None
    results, summaries = [], {}
    try:
        database_create(DB_NAME)
        redis_flush(BROKER_URL)
        import django
        from django.core.management import call_command
        from django.db import connection

        import config.celery  # noqa: F401 - the Celery app this process publishes with

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        with connection.cursor() as cursor:
            cursor.execute(TRIGGERS_SQL)
        listener = Listener()
        listener.start()
        publishes = Publishes()
        from importlib.metadata import version

        print(f"celery {version('celery')}, kombu {version('kombu')}, torch {version('torch')}, "
              f"nbclient {version('nbclient')}, ipykernel {version('ipykernel')}")

        pools = [p.strip() for p in args.pools.split(",") if p.strip()]
        for pool in pools:
            result = measure_pool(pool, args, env, tmp, listener, publishes)
            results.append(result)
            summaries[pool] = report_pool(result, args.gap)

        miss = any(s["median"] * 1000 > TARGET_MS for s in summaries.values())
        if args.profile == "always" or (args.profile == "auto" and miss):
            why = f" (an end-to-end median is above {TARGET_MS:g} ms)" if miss else ""
            print(f"\n== profile{why}")
            probe_args = argparse.Namespace(**{**vars(args), "warmup": 3})
            trials = [(pool, f"worker --pool {pool} with timing hooks", {}) for pool in pools]
            if "prefork" in pools:
                trials.append(("prefork", "what-if: --pool prefork, DB connection kept (CELERY_DB_REUSE_MAX)",
                               {REUSE_DB_ENV: "1"}))
            for number, (pool, label, extra) in enumerate(trials):
                probe_log = tmp / f"probe-worker-{number}.log"
                result = measure_pool(pool, probe_args, {**env, **extra}, tmp, listener, publishes,
                                      probe_log=probe_log, label=label)
                report_probe_worker(result, probe_log)
            forkserver_profile(args.profile_runs, tmp)

        print("\n== the same cell elsewhere")
        wait_for_quiet("nbclient")
        nb = nbclient_runs(args.nbclient_runs)
        print(f"-- nbclient {args.nbclient_runs}x, fresh kernel each time ({nb['command']}); "
              f"outputs {sorted(nb['outputs'])}")
        print(stats_line("nbclient: kernel start (until ready)", nb["start"]))
        print(stats_line("nbclient: kernel start + execution  [ratio basis]", nb["executed"]))
        print(stats_line("nbclient: execute() incl. kernel shutdown", nb["total"]))
        fresh, out = python_c_runs(args.python_runs)
        print(f"-- python -c {PYTHON_C!r} {args.python_runs}x (prints {out!r})")
        print(stats_line("fresh interpreter: python -c", fresh))

        report_summary(summaries, nb, fresh)
    finally:
        if listener is not None:
            listener.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            redis_flush(BROKER_URL)
        try:
            database_drop(DB_NAME)
        except Exception as exc:  # noqa: BLE001 - say so, and still clean up the rest
            print(f"could not drop {DB_NAME}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe-worker":
        probe_worker(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--probe-forkserver":
        probe_forkserver()
    else:
        main()
