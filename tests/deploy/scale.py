"""The burst on the compose stack: many one-cell answers queued at once on docker-compose.yml's
stack with 1, 2 and 3 worker-cpu containers (`--scale worker-cpu=N`), then once more with one
worker container killed mid-burst. Run by bin/test-scale (not in CI: it takes many minutes of
both cores); docs/deploy.md explains it and bench/README.md records its figures.

For each burst it checks what an operator relies on when the pool is scaled by the work:

- every answer's run ends `verified` exactly once: one run per answer's key, one stored result
  for its cell, no run left queued or running;
- the scaling query (runner.selectors.queue_backlog_sql, the SQL KEDA's trigger runs), read
  every second, counts exactly the burst's runs not yet finished, so the replica count the rule
  gives, ceil(backlog / concurrency) within min..max, starts at the maximum, never rises during
  the burst, and falls to the minimum once the burst is done;
- no more runs are running than the containers have slots (no prefetch: the backlog is never
  hidden in a worker's buffer);
- a worker container `docker kill`ed while it runs a run loses nothing: the broker redelivers
  its job (visibility timeout lowered to seconds for that burst) and another worker verifies it.

It measures the throughput (runs/s, first run sent to last run finished, from the run table),
the machine's CPU use (/proc/stat) and each service's (its containers' cgroups), and the parts
of a run's time, and prints what bounds the throughput. Exit 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from compose_stack import (
    HERE,
    SKIPPED,
    Stack,
    build_images,
    check,
    ensure_engine,
    free_port,
    import_folder,
    log,
    results,
    sh,
    wait_for,
    wait_ready,
)

PROJECT = "kbscale"
MIN_REPLICAS = 1
MAX_REPLICAS = 3
FINISHED = "('verified', 'failed', 'fault')"
KILL_VISIBILITY_TIMEOUT_S = 20
# The SQL below is built from this script's own constants and integers read from the run table
# (ids), and the scaling query's text from runner.selectors: nothing a user typed (S608).
SERVICES = ("worker-cpu", "postgres", "redis", "web", "beat")


def answer(label: str, index: int) -> str:
    """A one-cell answer whose cell is its own (a distinct execution key per answer)."""
    value = f"{label}-{index:04d}"
    return f"""---
title: "Burst {value}"
slug: burst-{value}
tags: [burst]
summary: One cell, one of a burst of answers queued at once.
---

```python run
print("burst", "{value}")
```

```output
burst {value}
```
"""


class Psql:
    """One psql session in the postgres container, kept open: a reading every second costs
    a query, not a `docker exec` (whose start would be measured as the stack's CPU use)."""

    MARK = "@@done@@"

    def __init__(self, container: str):
        self.process = subprocess.Popen(
            ["docker", "exec", "-i", container, "psql", "-U", "kb", "-d", "kb", "-X", "-q", "-tA", "-F", "|"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lock = threading.Lock()

    def rows(self, sql: str) -> list[list[str]]:
        with self.lock:
            self.process.stdin.write(sql.strip().rstrip(";") + ";\n\\echo " + self.MARK + "\n")
            self.process.stdin.flush()
            lines = []
            while (line := self.process.stdout.readline()) and line.strip() != self.MARK:
                if line.strip():
                    lines.append(line.rstrip("\n"))
            if any(line.startswith(("ERROR", "psql:")) for line in lines):
                raise RuntimeError(f"psql: {lines}")
            return [line.split("|") for line in lines]

    def one(self, sql: str) -> list[str]:
        return self.rows(sql)[0]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.process.stdin.close()
            self.process.wait(timeout=10)


@dataclass
class Reading:
    at: float
    backlog: int  # what the scaling query says
    unfinished: int  # the burst's runs not finished, counted from the run table
    running: int
    finished: int
    created: int
    host: tuple[float, float] = (0.0, 0.0)  # the machine's (busy, total) CPU jiffies then


@dataclass
class Burst:
    label: str
    workers: int
    concurrency: int
    answers: int
    readings: list[Reading] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    @property
    def slots(self) -> int:
        return self.workers * self.concurrency


def desired_replicas(backlog: int, concurrency: int) -> int:
    """KEDA's rule for the postgresql trigger: ceil(value / targetQueryValue) within min..max."""
    return max(MIN_REPLICAS, min(MAX_REPLICAS, math.ceil(backlog / concurrency)))


# --- CPU ----------------------------------------------------------------------------------


def host_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


def container_cpu_s(container: str) -> float:
    """CPU seconds a container has used, from its cgroup (v2's cpu.stat or v1's cpuacct)."""
    pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", container).strip()
    if pid in ("", "0"):
        return 0.0
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            stat = Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.stat"
            if stat.exists():
                usage = dict(row.split() for row in stat.read_text().splitlines())
                return int(usage["usage_usec"]) / 1e6
        if "cpuacct" in controllers.split(","):
            usage = Path("/sys/fs/cgroup") / controllers / path.lstrip("/") / "cpuacct.usage"
            if usage.exists():
                return int(usage.read_text()) / 1e9
    return 0.0


def containers_cpu_s(stack: Stack) -> dict[tuple[str, str], float]:
    """{(service, container): CPU seconds} of every container of the services measured."""
    return {(s, c): container_cpu_s(c) for s in SERVICES for c in stack.containers(s)}


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per service between two readings; a container gone since (killed) counts
    what it had used when last read, so it never subtracts."""
    used = dict.fromkeys(SERVICES, 0.0)
    for (service, container), start in before.items():
        used[service] += max(0.0, after.get((service, container), start) - start)
    for (service, container), end in after.items():
        if (service, container) not in before:
            used[service] += end
    return used


# --- the burst ----------------------------------------------------------------------------


class Pool:
    def __init__(self, stack: Stack, concurrency: int):
        self.stack = stack
        self.concurrency = concurrency
        self.psql = Psql(stack.container("postgres"))
        self.reader = Psql(stack.container("postgres"))
        out = stack.shell(
            "import json; from runner.selectors import queue_backlog_sql as q; print(json.dumps(q('cpu')))"
        )
        self.scaling_sql = out

    def scale(self, workers: int) -> None:
        self.stack.run("up", "-d", "--no-build", "--scale", f"worker-cpu={workers}", timeout=900)

        def all_live():
            hosts = {self.hostname(c) for c in self.stack.containers("worker-cpu")}
            beating = {
                row[0].split("@", 1)[-1]
                for row in self.psql.rows(
                    "SELECT name FROM runner_worker WHERE last_heartbeat > now() - interval '25 seconds'"
                    " AND queues::text LIKE '%\"cpu\"%'"
                )
            }
            return len(hosts) == workers and hosts <= beating

        wait_for(f"{workers} live CPU worker containers", all_live, timeout=300, interval=2)

    @staticmethod
    def hostname(container: str) -> str:
        return sh("docker", "inspect", "-f", "{{.Config.Hostname}}", container).strip()

    def last_run_id(self) -> int:
        return int(self.psql.one("SELECT COALESCE(MAX(id), 0) FROM runner_run")[0])

    def read(self, after: int, answers: int) -> Reading:
        row = self.reader.one(
            f"SELECT extract(epoch from clock_timestamp()), ({self.scaling_sql}), "  # noqa: S608
            f"count(*) FILTER (WHERE status NOT IN {FINISHED}), count(*) FILTER (WHERE status = 'running'), "
            f"count(*) FILTER (WHERE status IN {FINISHED}), count(*) "
            f"FROM runner_run WHERE queue = 'cpu' AND id > {int(after)}"
        )
        at, backlog, _unfinished, running, finished, created = row
        # The burst's runs that are not finished: the answers imported minus those finished.
        # Counted from what this script imported, not from the statuses the scaling query uses.
        unfinished = answers - int(finished) if int(created) else 0
        return Reading(float(at), int(backlog), unfinished, int(running), int(finished), int(created))

    def warm_up(self, label: str, workers: int) -> None:
        """A few answers first, so each container's fork server is warm when the burst starts."""
        before = self.last_run_id()
        count = 2 * workers * self.concurrency
        import_folder(
            self.stack, f"warm-{label}", {f"w{i}.md": answer(f"warm{label}", i) for i in range(count)}
        )
        wait_for(
            "the warm-up runs",
            lambda: self.read(before, count).finished == count,
            timeout=600,
            interval=2,
        )

    def burst(self, burst: Burst, *, during=None) -> None:
        files = {f"a{i:04d}.md": answer(burst.label, i) for i in range(burst.answers)}
        before = self.last_run_id()
        burst.figures["after_id"] = before
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    reading = self.read(before, burst.answers)
                    reading.host = host_cpu()
                    burst.readings.append(reading)
                stop.wait(1.0)

        reader = threading.Thread(target=poll, daemon=True)
        cpu_before, host_before, t0 = containers_cpu_s(self.stack), host_cpu(), time.monotonic()
        reader.start()
        out = import_folder(self.stack, f"burst-{burst.label}", files)
        burst.figures["import_s"] = time.monotonic() - t0
        log(f"burst {burst.label}: imported ({out.strip()}) in {burst.figures['import_s']:.1f} s")
        try:
            done = False
            deadline = time.monotonic() + 1800
            while not done and time.monotonic() < deadline:
                time.sleep(1)
                last = burst.readings[-1] if burst.readings else None
                if during and last:
                    during(last)
                done = bool(last) and last.created == burst.answers and last.finished == burst.answers
            host_after, cpu_after = host_cpu(), containers_cpu_s(self.stack)
            time.sleep(5)  # readings after the end: the rule must give the minimum and stay there
        finally:
            stop.set()
            reader.join(timeout=10)
        burst.figures["cpu_s"] = cpu_used(cpu_before, cpu_after)
        busy = host_after[0] - host_before[0]
        total = host_after[1] - host_before[1]
        burst.figures["host_busy"] = busy / total if total else 0.0
        burst.figures["host_cpu_s"] = busy / os.sysconf("SC_CLK_TCK")
        burst.figures["wall_s"] = time.monotonic() - t0
        # While runs were in flight only (the import, which runs before any is sent, left out).
        flight = [r for r in burst.readings if r.created and r.finished < burst.answers]
        if len(flight) >= 2:
            busy = flight[-1].host[0] - flight[0].host[0]
            total = flight[-1].host[1] - flight[0].host[1]
            burst.figures["host_busy_runs"] = busy / total if total else 0.0
        else:
            burst.figures["host_busy_runs"] = burst.figures["host_busy"]
        self.timings(burst)

    def timings(self, burst: Burst) -> None:
        after = burst.figures["after_id"]
        row = self.psql.one(
            "SELECT extract(epoch from max(r.finished_at) - min(r.queued_at)), "  # noqa: S608
            "extract(epoch from avg(r.finished_at - r.started_at)), "
            "extract(epoch from avg(r.started_at - r.queued_at)), "
            "(SELECT avg(c.duration_s) FROM runner_runcell c JOIN runner_run r2 ON r2.id = c.run_id "
            f" WHERE r2.id > {after}) "
            f"FROM runner_run r WHERE r.queue = 'cpu' AND r.id > {after}"
        )
        span, run_s, wait_s, cell_s = (float(v or 0) for v in row)
        burst.figures.update(span_s=span, run_s=run_s, wait_s=wait_s, cell_s=cell_s)
        burst.figures["runs_per_s"] = burst.answers / span if span else 0.0

    def outcome(self, burst: Burst) -> dict:
        """What the run table holds of the burst's answers."""
        after = burst.figures["after_id"]
        slug = f"burst-{burst.label}-%"
        runs, keys, verified, cells, cell_rows, attempts_max, reruns = (
            int(v or 0)
            for v in self.psql.one(
                "SELECT count(*), count(DISTINCT key), count(*) FILTER (WHERE status = 'verified'), "  # noqa: S608
                "(SELECT count(DISTINCT (c.run_id, c.index)) FROM runner_runcell c "
                f"WHERE c.run_id > {after}), "
                f"(SELECT count(*) FROM runner_runcell c WHERE c.run_id > {after}), "
                "max(attempts), count(*) FILTER (WHERE attempts > 1) "
                f"FROM runner_run WHERE id > {after}"
            )
        )
        answers, linked, linked_verified, runs_per_key = (
            int(v or 0)
            for v in self.psql.one(
                "SELECT count(*), count(a.run_id), count(*) FILTER (WHERE r.status = 'verified'), "  # noqa: S608
                "COALESCE(max((SELECT count(*) FROM runner_run o WHERE o.key = r.key)), 0) "
                "FROM kb_question q JOIN answers_answer a ON a.question_id = q.id "
                f"LEFT JOIN runner_run r ON r.id = a.run_id WHERE q.slug LIKE '{slug}'"
            )
        )
        return {
            "runs": runs,
            "keys": keys,
            "verified": verified,
            "cells": cells,
            "cell_rows": cell_rows,
            "attempts_max": attempts_max,
            "reruns": reruns,
            "answers": answers,
            "linked": linked,
            "linked_verified": linked_verified,
            "runs_per_key": runs_per_key,
        }


# --- checks -------------------------------------------------------------------------------


def check_outcome(pool: Pool, burst: Burst) -> None:
    o = pool.outcome(burst)
    burst.figures["outcome"] = o
    n = burst.answers
    check(
        f"burst {burst.label}: every answer's run verified exactly once",
        o["answers"] == n
        and o["linked"] == n
        and o["linked_verified"] == n
        and o["runs"] == n
        and o["keys"] == n
        and o["verified"] == n
        and o["runs_per_key"] == 1
        and o["cells"] == n
        and o["cell_rows"] == n,
        f"{o['answers']} answers, {o['linked_verified']} with a verified run; {o['runs']} runs, "
        f"{o['keys']} keys, at most {o['runs_per_key']} run per key, {o['verified']} verified, "
        f"{o['cell_rows']} cell results for {o['cells']} cells; "
        f"{o['reruns']} runs took more than one attempt",
    )


def check_scaling(burst: Burst) -> None:
    readings = [r for r in burst.readings if r.created == burst.answers]
    label, c = burst.label, burst.concurrency
    wrong = [r for r in readings if r.backlog != r.unfinished]
    check(
        f"burst {label}: the scaling query counts exactly the burst's unfinished runs, every reading",
        bool(readings) and not wrong,
        f"{len(readings)} readings"
        + (f"; e.g. query {wrong[0].backlog}, unfinished {wrong[0].unfinished}" if wrong else ""),
    )
    replicas = [desired_replicas(r.backlog, c) for r in readings]
    in_flight = [r for r in readings if r.finished < burst.answers]
    first = desired_replicas(in_flight[0].backlog, c) if in_flight else None
    check(
        f"burst {label}: with the burst queued the rule gives the maximum ({MAX_REPLICAS})",
        first == MAX_REPLICAS,
        f"first reading: backlog {in_flight[0].backlog} -> {first}" if in_flight else "no reading in flight",
    )
    rises = [(a, b) for a, b in zip(replicas, replicas[1:], strict=False) if b > a]
    check(
        f"burst {label}: the replica count never rises during the burst",
        not rises,
        f"sequence {compress(replicas)}",
    )
    after = [r for r in readings if r.finished == burst.answers]
    check(
        f"burst {label}: after the burst the rule falls to the minimum ({MIN_REPLICAS}) and stays",
        len(after) >= 3
        and all(r.backlog == 0 and desired_replicas(r.backlog, c) == MIN_REPLICAS for r in after),
        f"{len(after)} readings after the last run finished, backlog {[r.backlog for r in after][:6]}",
    )
    over = [r for r in readings if r.running > burst.slots]
    check(
        f"burst {label}: never more runs running than the {burst.slots} slots (no prefetch)",
        not over,
        f"most running at once: {max((r.running for r in readings), default=0)}",
    )


def compress(values: list[int]) -> str:
    """3x41 2x2 1x9: each value and how many readings in a row gave it."""
    out: list[list[int]] = []
    for value in values:
        if out and out[-1][0] == value:
            out[-1][1] += 1
        else:
            out.append([value, 1])
    return " ".join(f"{v}x{n}" for v, n in out)


def kill_mid_burst(pool: Pool, burst: Burst):
    """Once a quarter of the burst is done, `docker kill` a worker container that is running a
    run (found by the run's worker name, which ends in the container's host name); the runs cut
    are those still `running` under its name once it is dead. Another container is tried if
    that one was between two runs when the kill landed."""
    state: dict = {"tries": 0, "victims": []}

    def during(reading: Reading) -> None:
        if state["victims"] or reading.finished < burst.answers // 4 or state["tries"] >= 2:
            return
        after = burst.figures["after_id"]
        rows = pool.psql.rows(
            f"SELECT DISTINCT worker FROM runner_run WHERE status = 'running' AND id > {after}"  # noqa: S608
        )
        hosts = {pool.hostname(c): c for c in pool.stack.containers("worker-cpu")}
        worker = next((row[0] for row in rows if row[0].split("@", 1)[-1] in hosts), None)
        if worker is None or not re.fullmatch(r"[\w.@-]+", worker):
            return
        container = hosts[worker.split("@", 1)[-1]]
        state["tries"] += 1
        sh("docker", "kill", container)
        time.sleep(0.5)
        cut = pool.psql.rows(
            f"SELECT id FROM runner_run WHERE status = 'running' AND worker = '{worker}'"  # noqa: S608
        )
        state.update(container=container[:12], killed_at=reading.finished, victims=[int(r[0]) for r in cut])
        log(f"burst {burst.label}: killed worker container {container[:12]}; runs cut: {state['victims']}")

    burst.figures["kill"] = state
    return during


def check_killed_run(pool: Pool, burst: Burst) -> None:
    state = burst.figures["kill"]
    victims = state["victims"]
    if not victims:
        check(f"burst {burst.label}: a worker container was killed while it ran a run", False, str(state))
        return
    ids = ", ".join(str(int(v)) for v in victims)
    rows = pool.psql.rows(
        "SELECT id, status, attempts, (SELECT count(*) FROM runner_runcell c WHERE c.run_id = r.id) "  # noqa: S608
        f"FROM runner_run r WHERE id IN ({ids}) ORDER BY id"
    )
    ok = len(rows) == len(victims) and all(
        status == "verified" and int(attempts) >= 2 and int(cells) == 1 for _, status, attempts, cells in rows
    )
    check(
        f"burst {burst.label}: the runs cut by the killed container were redelivered and verified once",
        ok,
        f"container {state['container']} killed after {state['killed_at']} runs; "
        + "; ".join(f"run #{i}: {s} after {a} attempts, {c} cell result" for i, s, a, c in rows),
    )


# --- report -------------------------------------------------------------------------------


def report(bursts: list[Burst]) -> None:
    print("\nburst   containers slots  runs/s   span_s  wait_s  run_s  cell_s  busy(all) busy(runs)  CPU/run")
    for b in bursts:
        f = b.figures
        per_run = "  ".join(f"{s} {1000 * v / b.answers:.0f}ms" for s, v in f["cpu_s"].items())
        print(
            f"{b.label:<8}{b.workers:>10} {b.slots:>5} {f['runs_per_s']:>7.2f} {f['span_s']:>8.1f} "
            f"{f['wait_s']:>7.1f} {f['run_s']:>6.3f} {f['cell_s']:>7.3f} {f['host_busy']:>9.0%} "
            f"{f['host_busy_runs']:>10.0%}  {per_run}"
        )
    for b in bursts:
        f = b.figures
        ours = sum(f["cpu_s"].values())
        print(
            f"{b.label}: the stack used {ours:.0f} CPU-s of the machine's {f['host_cpu_s']:.0f} busy CPU-s "
            f"in {f['wall_s']:.0f} s (import {f['import_s']:.0f} s); readings: "
            f"{compress([desired_replicas(r.backlog, b.concurrency) for r in b.readings if r.created])}"
        )
    print(bound(bursts))


def bound(bursts: list[Burst]) -> str:
    """What bounds the throughput, from the figures: the cores (machine busy), and then whose
    CPU a run costs most of (worker: the sandbox's start and the cell; postgres; redis; web)."""
    measured = [b for b in bursts if b.label.isdigit()]
    if not measured:
        return ""
    last = measured[-1]
    f = last.figures
    top = max(f["cpu_s"], key=f["cpu_s"].get)
    share = f["cpu_s"][top] / max(1e-9, sum(f["cpu_s"].values()))
    sandbox = 1 - f["cell_s"] / f["run_s"] if f["run_s"] else 0
    busy = f["host_busy_runs"]
    verdict = "the CPU (the cores busy while runs were in flight)" if busy >= 0.9 else "not the CPU alone"
    return (
        f"bound with {last.workers} containers: {verdict}; {top} used {share:.0%} of the stack's CPU; "
        f"a run spent {sandbox:.0%} of its {f['run_s'] * 1000:.0f} ms outside the cell's own code "
        f"(sandbox start, recording)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=300, help="answers per burst (300)")
    parser.add_argument("--containers", default="1,2,3", help="worker-cpu containers per burst (1,2,3)")
    parser.add_argument("--concurrency", type=int, default=1, help="runs at once per container (1)")
    parser.add_argument("--no-kill", action="store_true", help="skip the burst with a killed container")
    parser.add_argument("--no-build", action="store_true", help="use the images already built")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args()
    counts = [int(n) for n in args.containers.split(",")]
    if not ensure_engine():
        print("SKIPPED: no Docker engine can start on this machine (the burst needs one).")
        return SKIPPED
    if not args.no_build:
        build_images()
    settings = {"CPU_WORKER_CONCURRENCY": str(args.concurrency), "CELERY_VISIBILITY_TIMEOUT": "3600"}
    stack = Stack(
        free_port(), project=PROJECT, overrides=(HERE / "docker-compose.scale.yml",), settings=settings
    )
    bursts: list[Burst] = []
    pool = None
    try:
        stack.run("down", "-v", "--remove-orphans", check_rc=False)
        stack.run("up", "-d", "--no-build", "--scale", f"worker-cpu={counts[0]}", timeout=900)
        wait_ready(stack)
        pool = Pool(stack, args.concurrency)
        for workers in counts:
            pool.scale(workers)
            pool.warm_up(str(workers), workers)
            burst = Burst(str(workers), workers, args.concurrency, args.answers)
            bursts.append(burst)
            pool.burst(burst)
            log(f"burst {burst.label}: {burst.figures['runs_per_s']:.2f} runs/s")
            check_outcome(pool, burst)
            check_scaling(burst)
        if not args.no_kill:
            workers = max(counts)
            stack.write_settings({"CELERY_VISIBILITY_TIMEOUT": str(KILL_VISIBILITY_TIMEOUT_S)})
            pool.scale(workers)  # recreates the worker containers with the short visibility timeout
            pool.warm_up("k", workers)
            burst = Burst("kill", workers, args.concurrency, args.answers)
            bursts.append(burst)
            pool.burst(burst, during=kill_mid_burst(pool, burst))
            check_outcome(pool, burst)
            check_scaling(burst)
            check_killed_run(pool, burst)
        report(bursts)
    except Exception as exc:  # a step that could not complete is a failed check, with its reason
        check("the burst ran to the end", False, f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            print(stack.run("ps", check_rc=False))
            print(stack.run("logs", "--no-color", "--tail", "30", check_rc=False)[-6000:])
    finally:
        if pool:
            pool.psql.close()
            pool.reader.close()
        if not args.keep:
            stack.down()
        else:
            log(f"left running: {' '.join(stack.compose)}")
    failed = [name for name, ok, _ in results if not ok]
    log(
        f"{len(results) - len(failed)} of {len(results)} checks passed"
        + (f"; FAILED: {failed}" if failed else "")
    )
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
