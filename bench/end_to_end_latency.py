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
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()
# Overridable so that two people on one machine (or a baseline worktree) do not share them.
DB_NAME = os.environ.get("KB_BENCH_E2E_DB", "kb_bench_e2e")
# The name goes into CREATE/DROP DATABASE and LISTEN/pg_notify as an identifier: only a plain one.
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", DB_NAME):
    raise SystemExit(f"KB_BENCH_E2E_DB={DB_NAME!r}: lower-case letters, digits and _ only")
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE_URL = f"{PG_SERVER}/{DB_NAME}"
# Not the tests' 14/15, nor article_throughput's 13.
BROKER_URL = os.environ.get("KB_BENCH_E2E_BROKER", "redis://127.0.0.1:6379/12")
CHANNEL = DB_NAME
CELL = "import torch\ntorch.ones(3).sum()"
CELL_OUTPUT = "tensor(3.)"
PYTHON_C = "import torch; print(torch.ones(3).sum())"
TARGET_MS = 25.0
TARGET_RATIO = 50.0
QUIET_CORES = 0.3  # wait (up to QUIET_WAIT_S) for the machine to fall below this before a phase
QUIET_WAIT_S = 120
DISTURBED_CORES = 0.25  # other processes' cores during one answer's window above which it is marked
PROBE_LOG_ENV = "KB_E2E_PROBE_LOG"
REUSE_DB_ENV = "KB_E2E_REUSE_DB"

TRIGGERS_SQL = f"""
CREATE FUNCTION kb_bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'runner_runcell' THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
      'e', 'cell', 'run', NEW.run_id, 'at', extract(epoch FROM clock_timestamp()))::text);
  ELSIF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
      'e', NEW.status, 'run', NEW.id, 'at', extract(epoch FROM clock_timestamp()))::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER kb_bench_cell AFTER INSERT OR UPDATE ON runner_runcell
  FOR EACH ROW EXECUTE FUNCTION kb_bench_notify();
CREATE TRIGGER kb_bench_run AFTER INSERT OR UPDATE ON runner_run
  FOR EACH ROW EXECUTE FUNCTION kb_bench_notify();
"""


# --------------------------------------------------------------------------- small helpers


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def line(label: str, seconds: list[float], width: int = 58) -> str:
    if not seconds:
        return f"  {label:<{width}} (no data)"
    return (
        f"  {label:<{width}} median {ms(statistics.median(seconds))} ms   p90 {ms(pct(seconds, 0.9))} ms"
        f"   min {ms(min(seconds))}   max {ms(max(seconds))}"
    )


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for text in cpuinfo:
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, comm, utime+stime+cutime+cstime in ticks) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), comm, sum(int(f) for f in fields[11:15])


def _all_processes() -> dict[int, tuple[int, str, int]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _proc_stat(int(entry))
            if info:
                found[int(entry)] = info
    return found


def descendants(root: int, table: dict | None = None) -> list[int]:
    table = table or _all_processes()
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, info in table.items() if info[0] in frontier and pid not in found}
        found.extend(sorted(frontier))
    return found


def _machine_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_snapshot() -> tuple[float, int, dict[int, tuple[str, int]], set[int]]:
    """(time, machine busy ticks, pid -> (comm, ticks incl. reaped children), this benchmark's pids).

    This benchmark is this process and everything under it: the workers, their pool processes,
    fork servers and cells. A dead cell's CPU is in its fork server's reaped-children ticks, a
    worker's dead PostgreSQL backend's in the postmaster's.
    """
    table = _all_processes()
    ours = {os.getpid(), *descendants(os.getpid(), table)}
    return time.monotonic(), _machine_busy_ticks()[0], {p: (i[1], i[2]) for p, i in table.items()}, ours


def cpu_split(before, after) -> dict[str, float]:
    """Cores used between two snapshots: this benchmark, PostgreSQL, Redis, other, total.

    PostgreSQL serves other people's tests too; its share cannot be split between them and us.
    """
    t0, busy0, table0, ours0 = before
    t1, busy1, table1, ours1 = after
    tick, seconds = os.sysconf("SC_CLK_TCK"), max(t1 - t0, 1e-6)
    parts = defaultdict(float)
    for pid, (comm, ticks) in table1.items():
        old = table0.get(pid)
        delta = ticks - (old[1] if old and old[0] == comm else 0)
        if pid in ours1 or pid in ours0:
            parts["bench+worker"] += delta
        elif comm.startswith("postgres"):
            parts["postgres"] += delta
        elif comm.startswith("redis"):
            parts["redis"] += delta
    result = {name: value / tick / seconds for name, value in parts.items()}
    result["total"] = (busy1 - busy0) / tick / seconds
    result["other"] = max(0.0, result["total"] - sum(v for k, v in result.items() if k != "total"))
    return result


class CpuWatch:
    def __enter__(self):
        self.start = cpu_snapshot()
        return self

    def __exit__(self, *exc):
        self.end = cpu_snapshot()

    def cores(self) -> dict[str, float]:
        return cpu_split(self.start, self.end)


def cores_text(cores: dict[str, float]) -> str:
    order = ("bench+worker", "postgres", "redis", "other", "total")
    return ", ".join(f"{name} {cores.get(name, 0.0):.2f}" for name in order)


def wait_for_quiet(label: str) -> float:
    """Wait (bounded) until the machine is nearly idle; returns the busy cores last seen."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while True:
        busy0, _ = _machine_busy_ticks()
        time.sleep(1.0)
        busy1, _ = _machine_busy_ticks()
        cores = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
        if cores < QUIET_CORES or time.monotonic() > deadline:
            if cores >= QUIET_CORES:
                print(f"  (machine still busy before {label}: {cores:.2f} cores; measuring anyway)")
            return cores
        time.sleep(2.0)


def memory_of(pid: int) -> dict:
    info = {"pid": pid, "rss": 0, "pss": 0, "cmd": ""}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        info["cmd"] = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()[:90]
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as rollup:
        for text in rollup:
            if text.startswith("Rss:"):
                info["rss"] = int(text.split()[1]) * 1024
            elif text.startswith("Pss:"):
                info["pss"] = int(text.split()[1]) * 1024
    return info


# --------------------------------------------------------------------------- database, broker


def create_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()


class Listener(threading.Thread):
    """Receives the triggers' notifications; each is timestamped as it arrives (= commit)."""

    def __init__(self):
        super().__init__(name="kb-bench-listener", daemon=True)
        import psycopg

        self.conn = psycopg.connect(DATABASE_URL, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")
        self.events: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
        self.cond = threading.Condition()
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            for note in self.conn.notifies(timeout=0.5):
                received = time.time()
                data = json.loads(note.payload)
                with self.cond:
                    self.events[data["run"]].setdefault(data["e"], (received, float(data["at"])))
                    self.cond.notify_all()

    def wait(self, run_id: int, names: tuple[str, ...], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(name in self.events[run_id] for name in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"run {run_id}: no {names} after {timeout} s: {self.events[run_id]}")
                self.cond.wait(left)
            return dict(self.events[run_id])

    def stop(self) -> None:
        self.stopping = True
        self.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()


# --------------------------------------------------------------------------- the worker


class Worker:
    def __init__(self, pool: str, env: dict, logdir: Path, *, probe_log: Path | None = None):
        self.pool = pool
        self.log = logdir / f"worker-{pool}{'-probe' if probe_log else ''}-{time.monotonic_ns()}.log"
        args = ["-A", "config", "worker", "-Q", "cpu", "--pool", pool, "--concurrency", "1",
                "--hostname", f"bench-e2e-{pool}@%h", "--loglevel", "INFO"]
        if probe_log:
            command = [sys.executable, str(THIS), "--probe-worker", *args]
            env = dict(env, **{PROBE_LOG_ENV: str(probe_log)})
        else:
            command = [sys.executable, "-m", "celery", *args]
        self.command = command
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if "ready." in self.log.read_text(errors="replace"):
                return time.monotonic() - started
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker ({self.pool}) did not start:\n{tail}")

    def tree_memory(self) -> list[dict]:
        return [memory_of(pid) for pid in [self.process.pid, *descendants(self.process.pid)]]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Anything left in the worker's session (a fork server whose parent died first).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- end to end


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
    worker = Worker(pool, env, tmp, probe_log=probe_log)
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


def to_cell(samples):
    return [s["events"]["cell"][0] - s["t0"] for s in samples if "cell" in s["events"]]


def to_finished(samples):
    return [s["events"].get("verified", s["events"].get("failed"))[0] - s["t0"] for s in samples]


def quiet_samples(result: dict) -> tuple[list[dict], str]:
    """The undisturbed answers when there are enough of them (10), else all of them."""
    quiet = [s for s in result["samples"] if not s["disturbed"]]
    if len(quiet) >= 10:
        return quiet, f"the {len(quiet)} undisturbed answers"
    return result["samples"], f"all {len(result['samples'])} answers (too few undisturbed)"


def report_pool(result: dict, gap: float) -> dict:
    everything = result["samples"]
    samples, which = quiet_samples(result)
    disturbed = sum(s["disturbed"] for s in everything)
    print(f"-- {result['label']}: {len(everything)} answers, one after the other, {gap:g} s apart; "
          f"verified with output {CELL_OUTPUT!r}: {result['ok']}/{len(everything)}; disturbed by other "
          f"processes (> {DISTURBED_CORES:g} cores in the answer's window): {disturbed}")
    for text in result["bad"][:5]:
        print(f"   NOT VERIFIED: {text}")
    print(line("all answers: queued -> cell result committed", to_cell(everything)))
    print(line("all answers: queued -> run finished committed", to_finished(everything)))
    print(f"  {which}:")
    print(line("queued -> cell result committed (RunCell row)  [headline]", to_cell(samples)))
    print(line("queued -> run finished committed (status verified)", to_finished(samples)))

    def seg(a, b):
        values = []
        for s in samples:
            points = {"t0": s["t0"], "returned": s["returned"], "before": s.get("before"),
                      "after": s.get("after")}
            for name, (received, written) in s["events"].items():
                points[name] = received
                points[name + "@write"] = written
            points["finished"] = points.get("verified", points.get("failed"))
            if points.get(a) is not None and points.get(b) is not None:
                values.append(points[b] - points[a])
        return values

    print(f"  breakdown, {which} (median of each segment; medians do not add up exactly):")
    print(line("run_request until publish (key, INSERT, COMMIT)", seg("t0", "before"), 56))
    print(line("  publish to Redis (on_commit, apply_async)", seg("before", "after"), 56))
    print(line("  Run row committed (NOTIFY received) after t0", seg("t0", "queued"), 56))
    print(line("publish -> run_start committed (status running)", seg("after", "running"), 56))
    print(line("running -> RunCell INSERT (fork server answer + SELECT)", seg("running", "cell@write"), 56))
    print(line("RunCell INSERT -> its COMMIT received", seg("cell@write", "cell"), 56))
    print(line("cell committed -> run finished committed", seg("cell", "finished"), 56))
    print(line("cell's own execution time (RunCell.duration_s)",
               [result["durations"][s["run"]] for s in samples if s["run"] in result["durations"]], 56))
    print(f"  cores during the runs: {cores_text(result['cores'])}")
    total_rss = sum(m["rss"] for m in result["memory"])
    total_pss = sum(m["pss"] for m in result["memory"])
    print(f"  worker resident memory after the runs: RSS {total_rss / 2**20:.0f} MiB in all "
          f"(PSS {total_pss / 2**20:.0f} MiB: pages shared between the forked processes counted once)")
    for m in result["memory"]:
        print(f"    pid {m['pid']:>7}  RSS {m['rss'] / 2**20:6.0f} MiB  PSS {m['pss'] / 2**20:6.0f} MiB"
              f"  {m['cmd']}")
    cell, finished = to_cell(samples), to_finished(samples)
    return {"median": statistics.median(cell), "p90": pct(cell, 0.9), "which": which,
            "finished_median": statistics.median(finished), "finished_p90": pct(finished, 0.9),
            "all_median": statistics.median(to_cell(everything)), "all_p90": pct(to_cell(everything), 0.9),
            "rss": total_rss, "pss": total_pss}


# --------------------------------------------------------------------------- probe: worker


def _probe_writer():
    fd = os.open(os.environ[PROBE_LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def mark(event: str, tag: object = "-") -> None:
        thread = threading.current_thread().name
        os.write(fd, f"{time.time():.6f} {os.getpid()} {thread} {event} {tag}\n".encode())

    return mark


def probe_worker(celery_args: list[str]) -> None:
    """Internal: a Celery worker whose task path is timed (the same code, wrapped)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    import config.celery  # the app, as `-A config` would load it

    django.setup()
    from celery import signals
    from django.db.backends.base.base import BaseDatabaseWrapper

    import answers.services
    import runner.services as services
    from runner.engine.forkserver import ForkServer

    mark = _probe_writer()
    current = {"run": "-"}
    if os.environ.get(REUSE_DB_ENV):
        # What-if: Celery's Django fixup closes every DB connection before and after each task
        # unless CELERY_DB_REUSE_MAX is set; with it, the connection survives 2x that many calls.
        config.celery.app.conf["CELERY_DB_REUSE_MAX"] = 1000
    _probe_sql(current)

    def wrap(owner, name, event):
        original = getattr(owner, name, None)
        if original is None:  # renamed since: that step goes unmeasured
            return

        def wrapper(*args, **kwargs):
            mark(f"{event}.begin", current["run"])
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{event}.end", current["run"])

        setattr(owner, name, wrapper)

    for name, event in (("run_start", "run_start"), ("run_record_cell", "record"),
                        ("run_finish", "finish"), ("run_execute", "execute")):
        wrap(services, name, event)
    wrap(answers.services, "answers_refresh_for_run", "answers_refresh")
    wrap(BaseDatabaseWrapper, "connect", "db_connect")
    wrap(BaseDatabaseWrapper, "close", "db_close")
    wrap(ForkServer, "run_answer", "fs_call")

    def received(sender=None, request=None, **kwargs):
        mark("received", getattr(request, "id", "-"))

    def prerun(sender=None, task_id=None, args=None, **kwargs):
        current["run"] = args[0] if args else "-"
        mark("prerun", current["run"])
        mark("prerun.task", task_id)

    def postrun(sender=None, task_id=None, **kwargs):
        # The run stays current: Celery's Django fixup closes the connection after this.
        mark("postrun", current["run"])

    # Connected before Celery's Django fixup connects its own handlers: "prerun" comes first.
    signals.task_received.connect(received, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    from celery.bin.celery import main

    sys.argv = ["celery", *celery_args]
    sys.exit(main())


def _probe_sql(current: dict) -> None:
    """Every statement and commit the worker sends through psycopg, with its duration."""
    import psycopg

    fd = os.open(os.environ[PROBE_LOG_ENV] + ".sql", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(at: float, text: str) -> None:
        entry = {"run": str(current["run"]), "thread": threading.current_thread().name, "at": at,
                 "s": time.time() - at, "sql": " ".join(text.split())[:110]}
        os.write(fd, (json.dumps(entry) + "\n").encode())

    real_execute, real_commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def execute(self, query, *args, **kwargs):
        at = time.time()
        try:
            return real_execute(self, query, *args, **kwargs)
        finally:
            record(at, query if isinstance(query, str) else repr(query))

    def commit(self):
        at = time.time()
        try:
            return real_commit(self)
        finally:
            record(at, "COMMIT")

    psycopg.Cursor.execute = execute
    psycopg.Connection.commit = commit


def read_probe_worker(log: Path) -> dict[str, list[tuple[float, int, str, str]]]:
    """tag -> [(time, pid, thread, event)]."""
    by_tag = defaultdict(list)
    for text in log.read_text().splitlines():
        at, pid, thread, event, tag = text.split(" ")
        by_tag[tag].append((float(at), int(pid), thread, event))
    return by_tag


def report_probe_worker(result: dict, log: Path) -> None:
    marks = read_probe_worker(log)
    rows = defaultdict(list)
    samples, which = quiet_samples(result)
    for s in samples:
        run_marks = {}
        for at, _pid, thread, event in marks.get(str(s["run"]), []):
            if event.startswith("db_") and thread != "MainThread":
                continue
            run_marks.setdefault(event, at)
            if event.startswith("db_connect") or event.startswith("db_close"):
                run_marks[event + ".last"] = at
        for at, _pid, _thread, event in marks.get(str(s.get("task_id")), []):
            run_marks.setdefault(event, at)
        points = {"t0": s["t0"], "before": s.get("before"), "after": s.get("after"),
                  "cell_commit": s["events"].get("cell", (None,))[0],
                  "finished_commit": s["events"].get("verified", (None,))[0], **run_marks}

        def add(label, a, b, points=points):
            if points.get(a) is not None and points.get(b) is not None:
                rows[label].append(points[b] - points[a])

        add("bench: run_request until publish (key, INSERT, COMMIT)", "t0", "before")
        add("bench: publish to Redis (apply_async)", "before", "after")
        add("publish + Redis -> worker main process (task_received)", "before", "received")
        add("main process -> task_prerun in the pool process", "received", "prerun")
        add("task_prerun handlers (Celery's Django fixup closes the DB)", "prerun", "run_start.begin")
        add("run_start (connect + SELECT FOR UPDATE, UPDATE, COMMIT)", "run_start.begin", "run_start.end")
        add("  of which: DB connect (new connection every task)", "db_connect.begin", "db_connect.end")
        add("run_execute -> ForkServer.run_answer called", "run_start.end", "fs_call.begin")
        add("fork server: run_answer -> first result in the worker", "fs_call.begin", "record.begin")
        add("run_record_cell (SELECT, INSERT, DELETE, UPDATE, COMMIT)", "record.begin", "record.end")
        add("  record end -> its NOTIFY received (checks the method: ~0)", "record.end", "cell_commit")
        add("fork server: child exit, reap, cleanup, end frame", "record.end", "finish.begin")
        add("run_finish (SELECT, UPDATE, signal, COMMIT)", "finish.begin", "finish.end")
        add("  of which: answers_refresh_for_run (run_finished signal)", "answers_refresh.begin",
            "answers_refresh.end")
        add("task return -> task_postrun", "finish.end", "postrun")
        add("postrun: Celery's Django fixup closes the DB", "db_close.begin.last", "db_close.end.last")
        add("TOTAL queued -> cell committed (this probe run)", "t0", "cell_commit")
        add("TOTAL queued -> run finished committed (this probe run)", "t0", "finished_commit")
    print(f"-- where the time goes: {result['label']}, {which}; "
          f"cores during the runs: {cores_text(result['cores'])}")
    for label, values in rows.items():
        print(line(label, values, 62))
    sql_log = Path(str(log) + ".sql")
    statements = defaultdict(list)
    if sql_log.exists():
        for text in sql_log.read_text().splitlines():
            entry = json.loads(text)
            if entry["thread"] == "MainThread":
                statements[entry["run"]].append(entry)
    per_run = [statements.get(str(s["run"]), []) for s in samples]
    counts = [len(found) for found in per_run if found]
    if counts:
        print(f"  SQL per task (psycopg level, MainThread; BEGIN is implicit and not counted): "
              f"median {statistics.median(counts):g} statements+commits, median "
              f"{statistics.median(sum(e['s'] for e in found) for found in per_run if found) * 1000:.2f} ms "
              f"inside them; the last task's:")
        last = per_run[-1]
        for entry in last:
            offset = (entry["at"] - last[0]["at"]) * 1000
            print(f"    +{offset:7.2f} ms  {entry['s'] * 1000:6.2f} ms  {entry['sql']}")


# --------------------------------------------------------------------------- probe: fork server


def probe_forkserver() -> None:
    """Internal: runner.engine.forkserver.serve() with timing marks around its sandbox steps.

    The server's marks go to the probe log; the child's are kept in memory and written to its
    stderr just before the cells run, so they come back in the cell's stderr.
    """
    import runner.engine.cellexec as cellexec
    import runner.engine.child as child
    import runner.engine.forkserver as forkserver
    import runner.engine.sandbox as sandbox
    import runner.engine.seccomp_filter as seccomp_filter
    import runner.engine.supervisor as supervisor
    import runner.engine.watch as watch

    fd = os.open(os.environ[PROBE_LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    state = {"child": None}

    def mark(event: str) -> None:
        at = time.time()
        if state["child"] is not None:
            state["child"].append((at, event))
        else:
            os.write(fd, f"{at:.6f} {event}\n".encode())

    def wrap(owner, name, event, begin=False):
        original = getattr(owner, name, None)
        if original is None:  # renamed since: that step goes unmeasured
            return

        def wrapper(*args, **kwargs):
            if begin:
                mark(f"{event}.begin")
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{event}.end")

        setattr(owner, name, wrapper)

    real_fork = os.fork

    def fork():
        mark("fork.call")
        pid = real_fork()
        if pid == 0:
            state["child"] = []
            mark("child.start")
        else:
            mark("fork.parent")
        return pid

    os.fork = fork
    wrap(supervisor, "run_job", "job", begin=True)
    wrap(child, "fresh_pid_namespace_for_children", "pidns", begin=True)
    wrap(child, "close_all_but", "closefds")
    wrap(sandbox, "unshare_namespaces", "unshare")
    wrap(child, "make_filesystem", "mounts")
    wrap(cellexec, "warm_up", "warmup")
    wrap(cellexec, "Session", "session")  # a tree without a prepared session skips this row
    wrap(seccomp_filter, "install", "seccomp")
    wrap(sandbox, "move_fds", "movefds")
    wrap(sandbox, "apply_rlimits", "rlimits")
    wrap(sandbox, "drop_privileges", "privdrop")
    wrap(watch, "reap", "reap", begin=True)
    wrap(watch, "sweep_orphans", "sweep")
    wrap(supervisor._Job, "grade", "grade", begin=True)
    real_write = child.write_frame

    def child_write_frame(fd_, message):
        if message.get("t") == "ready":
            mark("ready")
        return real_write(fd_, message)

    child.write_frame = child_write_frame
    real_run_cells = cellexec.run_cells

    def run_cells(**kwargs):
        mark("cells.begin")
        os.write(2, "".join(f"KBPROBE {at:.6f} {event}\n" for at, event in state["child"]).encode())
        return real_run_cells(**kwargs)

    cellexec.run_cells = run_cells
    real_emit = forkserver.write_frame

    def emit(fd_, message):
        if message.get("t") in ("cell", "end"):
            mark(f"emit.{message['t']}")
        return real_emit(fd_, message)

    forkserver.write_frame = emit
    forkserver.serve()


def forkserver_profile(rounds: int, tmp: Path) -> None:
    from runner.engine.forkserver import SERVER_ENV_ALLOW, ForkServer

    log = tmp / "probe-forkserver.log"
    cells = fresh_cells()

    class ProbeForkServer(ForkServer):
        def _spawn(self) -> None:  # ForkServer._spawn, with this script's probe mode as command
            env = {name: os.environ[name] for name in SERVER_ENV_ALLOW if name in os.environ}
            env.update(PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", MPLBACKEND="Agg",
                       PYTHONDONTWRITEBYTECODE="1", **{PROBE_LOG_ENV: str(log)})
            self.process = subprocess.Popen(
                [self.python, str(THIS), "--probe-forkserver"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd="/",
            )
            self.hello = self._receive(time.monotonic() + 120)

    def answers(server, n):
        out = []
        for _ in range(n):
            t0 = time.time()
            run = server.run_answer(cells)
            result = next(iter(run))
            t1 = time.time()
            run.wait()
            out.append((t0, t1, time.time(), result))
        return out

    plain = ForkServer.start()
    try:
        answers(plain, 3)
        wait_for_quiet("the fork server runs")
        plain_runs = answers(plain, rounds)
    finally:
        plain.close()
    server = ProbeForkServer.start()
    try:
        answers(server, 3)
        log.write_text("")
        probe_runs = answers(server, rounds)
    finally:
        server.close()

    jobs, job = [], None
    for text in log.read_text().splitlines():
        at, event = text.split(" ")
        if event == "job.begin":
            job = {}
            jobs.append(job)
        if job is not None:
            job.setdefault(event, float(at))
    rows = defaultdict(list)
    for job, (t0, t1, t2, result) in zip(jobs, probe_runs, strict=False):
        for text in result.stderr.splitlines():
            if text.startswith("KBPROBE "):
                _, at, event = text.split(" ")
                job.setdefault(event, float(at))
        job.update({"bench.call": t0, "bench.result": t1, "bench.end": t2})

        def add(label, a, b, job=job):
            if a in job and b in job:
                rows[label].append(job[b] - job[a])

        add("worker -> server: job frame read", "bench.call", "job.begin")
        add("setns + unshare(CLONE_NEWPID) for the child", "pidns.begin", "pidns.end")
        add("job setup (mkdtemp, pipes) -> fork", "pidns.end", "fork.call")
        add("fork(): returns in the parent", "fork.call", "fork.parent")
        add("fork(): child starts running", "fork.call", "child.start")
        add("child: setsid, close inherited fds", "child.start", "closefds.end")
        add("child: unshare net, mount, ipc, uts namespaces", "closefds.end", "unshare.end")
        add("child: fresh root: binds, /etc, /dev, /tmp, /proc, pivot_root", "unshare.end", "mounts.end")
        add("child: warm-up cell (standby: before the job)", "mounts.end", "warmup.end")
        add("child: the answer's session prepared (standby: before the job)", "warmup.end", "session.end")
        add("child: seccomp filter", "session.end" if "session.end" in job else "warmup.end", "seccomp.end")
        add("child: job read -> move fds", "seccomp.end", "movefds.end")
        add("child: env, chdir, rlimits", "movefds.end", "rlimits.end")
        add("child: drop privileges", "rlimits.end", "privdrop.end")
        add("child: torch.set_num_threads, 'ready' frame", "privdrop.end", "ready")
        add("child: ready -> cells start", "ready", "cells.begin")
        add("child: seed, run the cell, figures, report -> server", "cells.begin", "grade.begin")
        add("server: grade and emit the result", "grade.begin", "emit.cell")
        add("server -> worker: result frame read", "emit.cell", "bench.result")
        add("child exit observed -> reaped (wait4)", "reap.begin", "reap.end")
        add("result emitted -> child reaped", "emit.cell", "reap.end")
        add("sweep orphans, rmtree, end frame", "reap.end", "emit.end")
        add("TOTAL run_answer -> first result (probe)", "bench.call", "bench.result")
        add("TOTAL run_answer -> run finished (probe)", "bench.call", "bench.end")
    print(f"-- fork server alone (in this process, no Celery, no database), {rounds} answers:")
    print(line("plain ForkServer: run_answer -> first result", [r[1] - r[0] for r in plain_runs], 62))
    print(line("plain ForkServer: run_answer -> run finished", [r[2] - r[0] for r in plain_runs], 62))
    print("   with timing hooks in the server and its child:")
    for label, values in rows.items():
        print(line(label, values, 62))


# --------------------------------------------------------------------------- the alternatives


def nbclient_runs(rounds: int) -> dict:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    spec = KernelSpecManager().get_kernel_spec("python3")
    marks: dict[str, float] = {}
    totals, to_executed, starts = [], [], []
    outputs = set()
    for _ in range(rounds):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
        marks.clear()
        client = NotebookClient(
            nb, kernel_name="python3", timeout=300, startup_timeout=120,
            on_notebook_start=lambda **kw: marks.setdefault("started", time.perf_counter()),
            on_cell_executed=lambda **kw: marks.setdefault("executed", time.perf_counter()),
        )
        t0 = time.perf_counter()
        client.execute()
        t1 = time.perf_counter()
        totals.append(t1 - t0)
        to_executed.append(marks["executed"] - t0)
        starts.append(marks["started"] - t0)
        for output in nb.cells[0].outputs:
            outputs.add(output.get("data", {}).get("text/plain", output.get("text", "")))
    command = spec.argv
    if command and command[0] in {"python", "python3"}:
        command = [sys.executable, *command[1:]]  # jupyter_client's own substitution
    return {"total": totals, "executed": to_executed, "start": starts, "outputs": outputs,
            "command": " ".join(command)}


def python_c_runs(rounds: int) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(rounds):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PYTHON_C], check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = done.stdout.strip()
    return times, out


# --------------------------------------------------------------------------- main


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
        create_database()
        flush_broker()
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
        print(line("nbclient: kernel start (until ready)", nb["start"]))
        print(line("nbclient: kernel start + execution  [ratio basis]", nb["executed"]))
        print(line("nbclient: execute() incl. kernel shutdown", nb["total"]))
        fresh, out = python_c_runs(args.python_runs)
        print(f"-- python -c {PYTHON_C!r} {args.python_runs}x (prints {out!r})")
        print(line("fresh interpreter: python -c", fresh))

        print("\n== summary")
        nb_median = statistics.median(nb["executed"])
        py_median = statistics.median(fresh)
        for pool, s in summaries.items():
            verdict_ms = "meets" if s["median"] * 1000 <= TARGET_MS else "MISSES"
            ratio = nb_median / s["median"]
            verdict_ratio = "meets" if ratio >= TARGET_RATIO else "MISSES"
            print(f"  --pool {pool:<8} end to end (to the cell's result committed): "
                  f"median {ms(s['median'])} ms, p90 {ms(s['p90'])} ms  "
                  f"[{verdict_ms} the {TARGET_MS:g} ms target]")
            print(f"  {'':<16} to the run's final status committed:       "
                  f"median {ms(s['finished_median'])} ms, p90 {ms(s['finished_p90'])} ms")
            print(f"  {'':<16} nbclient / end to end: {ratio:6.0f}x [{verdict_ratio} {TARGET_RATIO:g}x]   "
                  f"python -c / end to end: {py_median / s['median']:6.0f}x   "
                  f"(to final status: {nb_median / s['finished_median']:.0f}x and "
                  f"{py_median / s['finished_median']:.0f}x; nbclient execute() incl. shutdown: "
                  f"{statistics.median(nb['total']) / s['median']:.0f}x)")
            print(f"  {'':<16} ({s['which']}; all answers: median {ms(s['all_median'])} ms, "
                  f"p90 {ms(s['all_p90'])} ms)")
            print(f"  {'':<16} worker RSS {s['rss'] / 2**20:.0f} MiB (PSS {s['pss'] / 2**20:.0f} MiB)")
    finally:
        if listener is not None:
            listener.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            flush_broker()
        try:
            drop_database()
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
