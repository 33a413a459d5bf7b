#!/usr/bin/env python
"""The embedded pool against nbclient, per notebook: N one-cell answers imported and verified.

Run from the repository root:

    .venv/bin/python bench/embedded_pool.py [--answers 30] [--rounds 3] [--nbclient-runs 3]

It sets up what `bin/run` runs on a fresh machine, in a temporary var dir: the SQLite database
in WAL mode (migrated), Celery's filesystem broker, and one worker started with bin/run's own
command line (`celery -A config worker -Q cpu --concurrency 1`, prefork, warm fork server).
Once the worker is ready, each round writes N new one-cell answers as Markdown files and runs
`manage.py import_articles` on them, exactly as bin/run imports content/; the round's time is
from the start of that command until the last of the N answers is published as verified (a
poll of the database every 20 ms). A new revision runs twice (the double run), so every answer
costs the worker two sandboxed runs of its cell. Every answer's run is checked: status
`verified`, two passes, the expected output.

nbclient's per-notebook time: the same cell as a one-cell notebook executed by nbclient in a
fresh python3 kernel (bench/end_to_end/alternatives.py, nbclient_runs: kernel start + the cell, and the
whole execute() with the kernel's shutdown). The ratio is nbclient's median over the embedded
pool's median time per answer (round time / N).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.end_to_end.alternatives import nbclient_runs  # noqa: E402
from bench.support.machine import cpu_model, machine_busy_seconds  # noqa: E402
from bench.support.processes import start_logged, stop_session, wait_for_log  # noqa: E402

PYTHON = str(ROOT / ".venv/bin/python")
CELERY = str(ROOT / ".venv/bin/celery")
TARGET_RATIO = 50.0

ARTICLE = """---
title: "Embedded pool bench {tag} answer {n}"
slug: embedded-pool-{tag}-{n}
tags:
  - bench
summary: One cell.
---

One cell.

```python run
import torch
print(torch.ones({n_plus}).sum().item())
```

```output
{expected}
```
"""


def embedded_env(var_dir: Path) -> dict:
    """bin/run's environment: DEBUG, no DATABASE_URL or broker URL, so SQLite and the filesystem
    broker under KB_VAR_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(DJANGO_DEBUG="1", KB_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    return env


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    worker = start_logged(
        [CELERY, "-A", "config", "worker", "-Q", "cpu", "--concurrency", "1", "--hostname", "bench-cpu@%h",
         "--loglevel", "INFO"],
        log=log, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_log(worker, log, " ready.", timeout=180, poll=0.2, what="the worker")
    return worker


def write_articles(directory: Path, tag: str, count: int) -> dict[str, str]:
    directory.mkdir(parents=True)
    expected = {}
    for n in range(count):
        slug = f"embedded-pool-{tag}-{n}"
        expected[slug] = f"{float(n + 1)}"
        text = ARTICLE.format(tag=tag, n=n, n_plus=n + 1, expected=expected[slug])
        (directory / f"{slug}.md").write_text(text)
    return expected


VERIFIED_SQL = """
SELECT q.slug, r.status, r.twice, c.output
FROM kb_question q
JOIN answers_answer a ON a.question_id = q.id
JOIN runner_run r ON r.id = a.published_run_id
LEFT JOIN runner_runcell c ON c.run_id = r.id
WHERE q.slug LIKE ? AND a.published_verified AND r.status = 'verified'
"""


def one_round(env: dict, db: Path, tmp: Path, tag: str, count: int) -> float:
    directory = tmp / f"content-{tag}"
    expected = write_articles(directory, tag, count)
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", "import_articles", str(directory)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    imported = time.perf_counter() - started
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    deadline = time.monotonic() + 300
    while True:
        rows = con.execute(VERIFIED_SQL, (f"embedded-pool-{tag}-%",)).fetchall()
        if len(rows) == count or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    con.close()
    wrong = [(slug, status, twice, out) for slug, status, twice, out in rows
             if not twice or (out or "").strip() != expected[slug]]
    if len(rows) != count or wrong:
        raise SystemExit(f"round {tag}: {len(rows)} of {count} verified; wrong: {wrong[:3]}")
    return elapsed, imported


def measure(args, tmp: Path) -> list[float]:
    """Seconds per answer, one figure a round."""
    var_dir = tmp / "var"
    for folder in ("staticfiles", "broker/queue", "broker/processed", "broker/control"):  # bin/run's
        (var_dir / folder).mkdir(parents=True)
    env = embedded_env(var_dir)
    database = var_dir / "db.sqlite3"
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    worker = start_worker(env, tmp / "worker.log")
    try:
        one_round(env, database, tmp, "warm", args.answers)  # the first round after start-up runs slow
        per_answer = []
        for number in range(args.rounds):
            busy_before = machine_busy_seconds()
            seconds, imported = one_round(env, database, tmp, f"r{number}", args.answers)
            busy = (machine_busy_seconds() - busy_before) / seconds
            per_answer.append(seconds / args.answers)
            print(f"round {number + 1}: {args.answers} answers imported and verified in "
                  f"{seconds * 1000:.0f} ms, {per_answer[-1] * 1000:.1f} ms per answer; the import "
                  f"command took {imported * 1000:.0f} ms (machine: {busy:.2f} cores busy)")
        return per_answer
    finally:
        stop_session(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nbclient-runs", type=int, default=3)
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; {args.answers} one-cell answers a round, "
          f"{args.rounds} rounds; bin/run's embedded defaults (SQLite WAL, filesystem broker, "
          "one prefork worker)")
    tmp = Path(tempfile.mkdtemp(prefix="kb-embedded-pool-"))
    try:
        ours = statistics.median(measure(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    nb = nbclient_runs(args.nbclient_runs)
    executed, total = statistics.median(nb["executed"]), statistics.median(nb["total"])
    print(f"embedded pool: median {ours * 1000:.1f} ms per answer (import, double run, publish)")
    print(f"nbclient: kernel start + the cell {executed * 1000:.0f} ms, "
          f"execute() incl. shutdown {total * 1000:.0f} ms")
    ratio = executed / ours
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"ratio (nbclient kernel start + cell / embedded per answer): {ratio:.0f}x "
          f"[{verdict} {TARGET_RATIO:g}x]; with nbclient's shutdown: {total / ours:.0f}x")


if __name__ == "__main__":
    main()
