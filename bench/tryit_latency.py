"""Try-it latency at the API level: start_try_run -> read_try_run "done", on a real `try` worker.

    DJANGO_DEBUG=1 DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/10 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 .venv/bin/python -m bench.tryit_latency

Starts one worker on the `try` queue (BENCH_TRY_CONCURRENCY pool processes, default 2), waits
for its fork servers, then prints the median and p95 of: a trivial cell, one reader at a time;
the same with 8 readers at once; a trivial cell after a published prefix that sleeps 3 s; a
matplotlib figure. The database must be migrated (the worker's heartbeat writes to it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from bench.support.processes import celery_worker_command, start_logged, stop_session, wait_for_log  # noqa: E402
from bench.support.report import pct  # noqa: E402
from runner import tryit  # noqa: E402

SLOW_PREFIX = [{"index": 0, "line": 1, "code": "import time\ntime.sleep(3)\nx = 1", "expected": None,
                "options": {"timeout": 30.0}}]  # fmt: skip
FIGURE = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()"


def one_run(prefix, code: str) -> float:
    started = time.perf_counter()
    token = tryit.start_try_run(prefix=prefix, cell={"code": code, "options": {}})
    while True:
        result = tryit.read_try_run(token)
        if result and result["state"] == "done":
            break
        time.sleep(0.005)
    assert result["status"] == "ran", result
    return (time.perf_counter() - started) * 1000


def report(name: str, samples: list[float]) -> None:
    p95 = pct(samples, 0.95)
    print(f"{name:<44} n={len(samples):<3} p50={statistics.median(samples):7.0f} ms  p95={p95:7.0f} ms")


def start_worker(concurrency: int) -> tuple[subprocess.Popen, Path]:
    log = Path(os.environ.get("KB_VAR_DIR", "/tmp")) / "bench-try-worker.log"
    command = celery_worker_command("-Q", "try", "--concurrency", str(concurrency),
                                    "--hostname", f"bench-try-{os.getpid()}@%h", "--without-gossip",
                                    "--without-mingle", "--loglevel", "INFO")  # fmt: skip
    return start_logged(command, log=log), log


def main() -> None:
    concurrency = int(os.environ.get("BENCH_TRY_CONCURRENCY", "2"))
    worker, log = start_worker(concurrency)
    try:
        wait_for_log(worker, log, timeout=120, poll=0.2, what="the try worker")
        for _ in range(4 * concurrency):  # every pool process has started its fork server
            one_run([], "1")
        load = Path("/proc/loadavg").read_text().strip()
        print(f"load before: {load}  (try worker concurrency {concurrency})")
        report("trivial cell, one reader", [one_run([], "1 + 1") for _ in range(30)])
        with ThreadPoolExecutor(8) as pool:
            samples = [ms for _ in range(5) for ms in pool.map(lambda _: one_run([], "1 + 1"), range(8))]
        report("trivial cell, 8 readers at once", samples)
        report("trivial cell after a 3 s published prefix", [one_run(SLOW_PREFIX, "x + 1") for _ in range(5)])
        report("matplotlib figure cell", [one_run([], FIGURE) for _ in range(10)])
        print(f"load after:  {Path('/proc/loadavg').read_text().strip()}")
    finally:
        stop_session(worker, timeout=20)


if __name__ == "__main__":
    main()
