"""Answers sent through a real Celery worker, one after the other, each timed from the
request until its cell's result (and then the run's final status) is committed.

One answer: runner.services.run_request(cells=..., force=True) on a fresh cell list (its
transaction commits, then the job is published), then the Listener's notifications for it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from bench.support.machine import CpuWatch, cpu_snapshot, cpu_split, descendants, memory_of, wait_for_quiet
from bench.support.processes import celery_worker_command, start_logged, stop_session, wait_for_log

from .database import Listener
from .params import CELL, CELL_OUTPUT, DISTURBED_CORES, PROBE_LOG_ENV, SCRIPT


class PoolWorker:
    """`celery -A config worker -Q cpu --pool POOL --concurrency 1`; with probe_log, the same
    worker run by this bench's script with timing hooks (probe_worker), marks into probe_log."""

    def __init__(self, pool: str, env: dict, logdir: Path, *, probe_log: Path | None = None):
        self.pool = pool
        self.log = logdir / f"worker-{pool}{'-probe' if probe_log else ''}-{time.monotonic_ns()}.log"
        args = ["-Q", "cpu", "--pool", pool, "--concurrency", "1",
                "--hostname", f"bench-e2e-{pool}@%h", "--loglevel", "INFO"]  # fmt: skip
        if probe_log:
            command = [sys.executable, str(SCRIPT), "--probe-worker", "-A", "config", "worker", *args]
            env = dict(env, **{PROBE_LOG_ENV: str(probe_log)})
        else:
            command = celery_worker_command(*args)
        self.command = command
        self.process = start_logged(command, log=self.log, env=env)

    def wait_ready(self, timeout: float = 120) -> float:
        return wait_for_log(self.process, self.log, timeout=timeout, what=f"worker ({self.pool})")

    def tree_memory(self) -> list[dict]:
        return [memory_of(pid) for pid in [self.process.pid, *descendants(self.process.pid)]]

    def stop(self) -> None:
        stop_session(self.process)  # the worker's whole session: pool processes, fork servers


def fresh_cells() -> list[dict]:
    from answers.cells import parse_answer
    from runner.engine.specs import cell_to_json

    return [cell_to_json(cell) for cell in parse_answer(f"```python run\n{CELL}\n```\n").cells]


class Publishes:
    """Celery's publish signals in this process: task id and times of each run's publish."""

    def __init__(self):
        from celery.signals import after_task_publish, before_task_publish

        self.by_run: dict[int, dict] = {}
        before_task_publish.connect(self._before, weak=False)
        after_task_publish.connect(self._after, weak=False)

    @staticmethod
    def _run_id(body) -> int | None:
        with contextlib.suppress(Exception):
            return int(body[0][0])
        return None

    def _before(self, sender=None, headers=None, body=None, **kwargs):
        run_id = self._run_id(body)
        if run_id is not None:
            self.by_run[run_id] = {"task_id": (headers or {}).get("id"), "before": time.time()}

    def _after(self, sender=None, headers=None, body=None, **kwargs):
        run_id = self._run_id(body)
        if run_id is not None and run_id in self.by_run:
            self.by_run[run_id]["after"] = time.time()


def one_answer(listener: Listener, publishes: Publishes) -> dict:
    from runner.services import run_request

    cells = fresh_cells()
    t0 = time.time()
    run = run_request(cells=cells, force=True)  # atomic: commits, then publishes on commit
    returned = time.time()
    events = listener.wait(run.pk, ("verified", "failed"), timeout=120)
    return {"run": run.pk, "t0": t0, "returned": returned, "events": events,
            **publishes.by_run.get(run.pk, {})}


def check_results(run_ids: list[int]) -> tuple[int, list[str]]:
    from runner.models import Run, RunCell

    bad = []
    for run in Run.objects.filter(pk__in=run_ids):
        cell = RunCell.objects.filter(run=run, index=0).first()
        if run.status != "verified" or cell is None or cell.output != CELL_OUTPUT:
            bad.append(f"run {run.pk}: {run.status} {cell.output if cell else None!r} {run.detail[:200]}")
    return len(run_ids) - len(bad), bad


def cell_durations(run_ids: list[int]) -> dict[int, float]:
    from runner.models import RunCell

    return dict(RunCell.objects.filter(run_id__in=run_ids, index=0).values_list("run_id", "duration_s"))


def measure_pool(pool, args, env, tmp, listener, publishes, probe_log=None, label=None) -> dict:
    label = label or f"worker --pool {pool}"
    worker = PoolWorker(pool, env, tmp, probe_log=probe_log)
    try:
        ready_s = worker.wait_ready()
        print(f"\n== {label}: 'ready.' after {ready_s:.1f} s; command: "
              f"{' '.join(worker.command[1:])}")
        for _ in range(args.warmup):
            one_answer(listener, publishes)
            time.sleep(args.gap)
        runs = args.profile_runs if probe_log else args.runs
        busy = wait_for_quiet(f"the {label} runs")
        print(f"  machine before the measured runs: {busy:.2f} cores busy")
        # Other people's test suites share this machine: each answer's window (the answer and
        # the gap after it) is marked disturbed when processes outside this benchmark,
        # PostgreSQL and Redis used more than DISTURBED_CORES in it. Answers go on until `runs`
        # undisturbed ones were measured, or `runs * max_factor` in all.
        samples = []
        with CpuWatch() as watch:
            snapshot = cpu_snapshot()
            while sum(not s["disturbed"] for s in samples) < runs and len(samples) < runs * args.max_factor:
                sample = one_answer(listener, publishes)
                time.sleep(args.gap)
                after = cpu_snapshot()
                sample["cpu"] = cpu_split(snapshot, after)
                sample["disturbed"] = sample["cpu"]["other"] > DISTURBED_CORES
                samples.append(sample)
                snapshot = after
        memory = worker.tree_memory()
    finally:
        worker.stop()
    ok, bad = check_results([s["run"] for s in samples])
    return {"pool": pool, "label": label, "samples": samples, "cores": watch.cores(), "memory": memory,
            "ok": ok, "bad": bad, "durations": cell_durations([s["run"] for s in samples])}
