"""Where the fork server's time goes: runner.engine.forkserver.serve() run by the bench's
script (--probe-forkserver) with timing marks around its sandbox steps, against a plain fork
server, both in this process (no Celery, no database)."""

from __future__ import annotations

import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from bench.support.machine import wait_for_quiet
from bench.support.report import stats_line

from .answers import fresh_cells
from .params import PROBE_LOG_ENV, ROOT, SCRIPT


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
                [self.python, str(SCRIPT), "--probe-forkserver"],
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
    print(stats_line("plain ForkServer: run_answer -> first result", [r[1] - r[0] for r in plain_runs], 62))
    print(stats_line("plain ForkServer: run_answer -> run finished", [r[2] - r[0] for r in plain_runs], 62))
    print("   with timing hooks in the server and its child:")
    for label, values in rows.items():
        print(stats_line(label, values, 62))
