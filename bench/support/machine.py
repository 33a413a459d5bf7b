"""The machine and its processes, read from /proc: the CPU model, the cores each party used
between two snapshots, waiting for a quiet machine before a phase, a process's memory.

The machine is shared (other people's test suites run on it): a bench waits for it to be quiet
before it measures, and marks what it measured while others were busy.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from collections import defaultdict
from pathlib import Path

QUIET_CORES = 0.3  # wait (up to QUIET_WAIT_S) for the machine to fall below this before a phase
QUIET_WAIT_S = 120


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
    """Every process under root (children, their children, ...), nearest first."""
    table = table or _all_processes()
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, info in table.items() if info[0] in frontier and pid not in found}
        found.extend(sorted(frontier))
    return found


def machine_busy_ticks() -> int:
    """Clock ticks all cores spent busy since boot: user, nice, system, irq, softirq, steal (guest
    time is part of user already; idle and iowait are not busy)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def cpu_snapshot() -> tuple[float, int, dict[int, tuple[str, int]], set[int]]:
    """(time, machine busy ticks, pid -> (comm, ticks incl. reaped children), this benchmark's pids).

    This benchmark is this process and everything under it: the workers, their pool processes,
    fork servers and cells. A dead cell's CPU is in its fork server's reaped-children ticks, a
    worker's dead PostgreSQL backend's in the postmaster's.
    """
    table = _all_processes()
    ours = {os.getpid(), *descendants(os.getpid(), table)}
    return time.monotonic(), machine_busy_ticks(), {p: (i[1], i[2]) for p, i in table.items()}, ours


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
    """`with CpuWatch() as watch: ...`, then watch.cores(): cpu_split over the block."""

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


def wait_until_quiet(threshold: float = QUIET_CORES, timeout: float = QUIET_WAIT_S) -> float:
    """Waits until the machine's busy CPU over 1 s is below threshold cores; returns the last
    reading. Other people's test runs share this machine and would skew a round."""
    deadline = time.monotonic() + timeout
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - before
        if busy < threshold or time.monotonic() > deadline:
            return busy
        time.sleep(2.0)


def wait_for_quiet(label: str) -> float:
    """wait_until_quiet with the defaults, saying so when the machine stayed busy before label."""
    cores = wait_until_quiet()
    if cores >= QUIET_CORES:
        print(f"  (machine still busy before {label}: {cores:.2f} cores; measuring anyway)")
    return cores


def memory_of(pid: int) -> dict:
    """{"pid", "rss", "pss" (bytes), "cmd"} of one process; zeros for one that is gone."""
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


def process_cpu_map(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process in pids has used."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return used


def cpu_used_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings: processes started in between count from zero; those that
    ended in between are lost (too little to matter: a backend closes after CONN_MAX_AGE)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (see machine_busy_ticks)."""
    return machine_busy_ticks() / os.sysconf("SC_CLK_TCK")


def database_backend_pids(db_name: str) -> list[int]:
    """PostgreSQL backends connected to db_name (their titles read 'postgres: ... user db host')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {db_name} " in title:
            pids.append(int(entry.name))
    return pids


def child_pids(parent: int) -> list[int]:
    """The direct children of parent."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(entry.name))
    return pids


def machine_description() -> dict:
    """nproc, CPU model, kernel and Python: the head of a bench's report."""
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": nproc or str(len(os.sched_getaffinity(0))),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
