"""In the fork server: fork one sandboxed child per answer, watch it, and grade each cell.

The supervisor alone decides a cell's status (from what it read on the child's stdout and
stderr and the child's report), enforces the wall-time, memory and output limits by killing
the child's whole process group and PID namespace, and always cleans up: no process of the
job survives it and its temporary directory is removed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import selectors
import shutil
import signal
import sys
import tempfile
import time
import traceback

from runner.engine import cellexec, sandbox
from runner.engine.compare import matches
from runner.engine.protocol import (
    CellResult,
    CellStatus,
    FrameDecoder,
    Limits,
    RunInfo,
    read_frame,
    write_frame,
)

MAX_ANSWER_TIMEOUT_S = 600.0
RSS_POLL_S = 0.05
TREE_POLL_S = 0.5


def answer_timeout(cells: list[dict], limits: Limits) -> float:
    if limits.answer_timeout_s is not None:
        return limits.answer_timeout_s
    return min(sum(c["options"]["timeout"] for c in cells), MAX_ANSWER_TIMEOUT_S)


def cpu_share(limits: Limits) -> int:
    return max(1, limits.threads or len(os.sched_getaffinity(0)))


# --- the child ---------------------------------------------------------------------------------


def _cell_runner(job: dict, *, server_pid: int, fds: dict, facts: dict, fallback_dir: str) -> None:
    """The forked child (PID 1 of a new PID namespace when granted): sandbox itself, run cells.

    ``job`` is the standby template (limits, uid, hidden paths, env): the cells and the CPU
    budget arrive on ``fds["job_r"]`` once the namespaces and mounts are ready, so that this
    set-up happens while the server is idle, not while an answer waits.
    """
    os.setsid()  # own session and process group: the server kills the group at the end
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid and not facts["namespaces"]["pid"]:
        os._exit(1)  # the server died before we could ask to die with it
    limits = Limits(**job["limits"])
    _close_all_but(set(fds.values()) | {2})
    facts["namespaces"].update(sandbox.unshare_namespaces(exclude=("pid",)))
    if facts["namespaces"]["mount"]:
        try:
            facts.update(
                sandbox.make_private_mounts(
                    tmp_bytes=limits.tmp_bytes,
                    tmp_inodes=limits.tmp_inodes,
                    uid=job["uid"],
                    hidden_paths=job["hidden_paths"],
                )
            )
            if facts["namespaces"]["pid"]:
                sandbox.mount_proc()
                facts["private_proc"] = True
        except OSError as exc:
            facts["mount_error"] = str(exc)
    cellexec.warm_up()
    handed = read_frame(fds["job_r"])
    if handed is None:
        os._exit(0)  # the server discarded this standby child
    job = {**job, **handed}
    result_fd, ack_fd = sandbox.move_fds(
        stdout_fd=fds["out_w"], stderr_fd=fds["err_w"], result_fd=fds["result_w"], ack_fd=fds["ack_r"]
    )
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 is /dev/null for the whole run
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        stream.reconfigure(write_through=True)
        setattr(sys, name, stream)
    private_tmp = facts.get("private_tmp") and "mount_error" not in facts
    workdir = sandbox.WORKDIR if private_tmp else fallback_dir
    tmpdir = "/tmp" if private_tmp else fallback_dir
    threads = cpu_share(limits)
    os.environ.clear()
    os.environ.update(sandbox.build_env(home=workdir, tmpdir=tmpdir, threads=threads, extra=job["env"]))
    tempfile.tempdir = None
    os.chdir(workdir)
    sandbox.ignore_file_size_signal()
    facts["rlimits"] = sandbox.apply_rlimits(
        limits=limits, data_baseline=sandbox.data_size(), cpu_s=job["cpu_s"]
    )
    if "exposed" in facts or not sandbox.interpreter_private():
        facts["uid"] = job["uid"] if sandbox.drop_privileges(job["uid"]) else os.getuid()
    else:
        # Without a private mount namespace `nobody` could not even import the standard
        # library here: the run goes on, as root, and its provenance says so.
        facts["uid"] = os.getuid()
    facts["threads"] = threads
    import torch

    torch.set_num_threads(threads)
    write_frame(result_fd, {"t": "ready", "facts": facts})
    cellexec.run_cells(
        cells=job["cells"], result_fd=result_fd, ack_fd=ack_fd, limits=limits, has_cuda=job["has_cuda"]
    )
    os._exit(0)


_own_pid_namespace: int | None = None


def _fresh_pid_namespace_for_children() -> bool:
    """Make the next fork the first process (PID 1) of a brand-new PID namespace.

    unshare(CLONE_NEWPID) only applies to children, and only once per namespace: going back
    to our own namespace first (setns) lets the server do it again for every job, with a
    single fork per answer.
    """
    global _own_pid_namespace
    if _own_pid_namespace is None:
        _own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
    libc = sandbox._libc
    if libc.setns(_own_pid_namespace, sandbox.CLONE_NEWPID) != 0:
        return False
    return libc.unshare(sandbox.CLONE_NEWPID) == 0


def _close_all_but(keep: set[int]) -> None:
    """Drop the server's descriptors (its protocol pipes above all) in a job's processes."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    keep = keep | {0, 1}
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


# --- the supervisor ---------------------------------------------------------------------------


def _read_rss(pid: int, field: str = "VmRSS:") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return 0


def _children_of(parents: set[int]) -> set[int]:
    """Every process descended from ``parents`` (one scan of /proc)."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            parent_of[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = set(parents)
    while frontier:
        frontier = {pid for pid, ppid in parent_of.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def sweep_orphans() -> int:
    """Kill and reap every child of this (subreaper) server: the leftovers of a job."""
    swept = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return swept  # no child left at all
        if pid:
            swept += 1
            continue
        killed = 0
        for child in _direct_children(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
                killed += 1
        if killed:
            os.waitpid(-1, 0)
            swept += 1
        else:
            time.sleep(0.001)
    return swept


def _direct_children(parent: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        children.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return children


class _Job:
    """State of one answer's run as the supervisor sees it."""

    def __init__(self, job: dict, emit):
        self.job = job
        self.cells = job["cells"]
        self.limits = Limits(**job["limits"])
        self.emit = emit
        self.results: dict[int, CellResult] = {}
        self.info = RunInfo(started_at=time.time())
        self.current = 0  # position in self.cells of the cell running now
        self.cell_started = time.monotonic()
        self.ready = False
        self.done = False
        self.stop_reason: tuple[CellStatus, str] | None = None
        self.out = bytearray()
        self.err = bytearray()
        self.output_total = 0
        self.exit: dict | None = None
        self.baseline_rss = 0
        self.ack_fd = -1

    # grading -----------------------------------------------------------------------------
    def _take_streams(self) -> tuple[str, str]:
        out = self.out.decode("utf-8", "replace")
        err = self.err.decode("utf-8", "replace")
        self.out.clear()
        self.err.clear()
        return out, err

    def grade(self, report: dict) -> None:
        if self.current >= len(self.cells):
            raise ValueError("report for a cell that does not exist")
        cell = self.cells[self.current]
        if report.get("index") != cell["index"]:
            raise ValueError("report out of order")
        stdout, stderr = self._take_streams()
        output = stdout
        if report.get("repr") is not None:
            output += ("" if not output or output.endswith("\n") else "\n") + report["repr"]
        expected = cell["expected"]
        options = cell["options"]
        error = None
        exception = report.get("exception")
        if report.get("skipped"):
            status, error = CellStatus.SKIPPED, report["skipped"]
        elif report.get("memory_error"):
            status, error = CellStatus.MEMORY_LIMIT, report["memory_error"]
        elif exception:
            error = exception["traceback"]
            if options.get("raises") and options["raises"] in exception["names"]:
                with_line = f"{output}\n{exception['line']}"
                if expected is None or any(
                    matches(expected, text, tol=options.get("tol")) for text in (output, with_line)
                ):
                    status = CellStatus.PASSED
                else:
                    status = CellStatus.MISMATCH
            else:
                status = CellStatus.ERROR
        elif options.get("raises"):
            status, error = CellStatus.MISMATCH, f"expected {options['raises']} to be raised; nothing was"
        elif report.get("figure_limit"):
            status, error = CellStatus.OUTPUT_LIMIT, f"figure limit: {report['figure_limit']}"
        elif expected is None:
            status = CellStatus.RAN
        else:
            matched = matches(expected, output, tol=options.get("tol"))
            status = CellStatus.PASSED if matched else CellStatus.MISMATCH
        result = CellResult(
            index=cell["index"],
            line=cell["line"],
            status=status,
            output=output,
            expected=expected,
            stderr=stderr,
            error=error,
            figures=[base64.b64decode(png) for png in report.get("figures", [])],
            duration_s=float(report.get("duration_s", 0.0)),
            peak_memory_bytes=report.get("peak_memory_bytes"),
        )
        self._publish(result)

    def _publish(self, result: CellResult) -> None:
        self.results[result.index] = result
        self.current += 1
        self.cell_started = time.monotonic()
        self.emit({"t": "cell", "result": result.to_json()})

    def finish(self) -> None:
        """Results for the cells that never reported: the stopped one, then skipped ones."""
        reason = self.stop_reason
        if reason is None and not self.done and self.current < len(self.cells):
            reason = (CellStatus.CRASHED, self._crash_detail())
        if reason is not None and self.current < len(self.cells):
            cell = self.cells[self.current]
            stdout, stderr = self._take_streams()
            self._publish(
                CellResult(
                    index=cell["index"],
                    line=cell["line"],
                    status=reason[0],
                    output=stdout,
                    expected=cell["expected"],
                    stderr=stderr,
                    error=reason[1],
                    duration_s=time.monotonic() - self.cell_started,
                )
            )
        why = ""
        if self.current:
            why = f"not run: cell {self.cells[self.current - 1]['index']} ended the session"
        while self.current < len(self.cells):
            cell = self.cells[self.current]
            self._publish(
                CellResult(
                    index=cell["index"],
                    line=cell["line"],
                    status=CellStatus.SKIPPED,
                    expected=cell["expected"],
                    error=why or "not run: the session ended before it",
                )
            )
        if reason is not None:
            self.info.outcome, self.info.detail = str(reason[0]), reason[1]
        self.info.finished_at = time.time()

    def _crash_detail(self) -> str:
        if self.exit is None:
            return "the cell's process died"
        code = self.exit["code"]
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"the cell's process was killed by signal {-code} ({name})"
        return f"the cell's process exited with code {code}"

    def stop(self, status: CellStatus, detail: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = (status, detail)


SETUP_KEYS = ("limits", "uid", "hidden_paths", "has_cuda", "env")


def setup_of(job: dict) -> dict:
    """What a child needs before it knows its cells: a standby child is prepared from this."""
    return {key: job[key] for key in SETUP_KEYS}


class Standby:
    """A child forked and sandboxed ahead of time (namespaces, mounts), waiting for its job.

    Forking the preloaded server and building the sandbox take ~15 ms; done between answers,
    they are off the path of the next one. A job whose set-up differs gets a fresh child.
    """

    def __init__(self, setup: dict):
        self.setup = setup
        uid = setup["uid"]
        self.fallback_dir = tempfile.mkdtemp(prefix="kb-cells-")
        if os.getuid() == 0:
            os.chown(self.fallback_dir, uid, uid)
        self.pipes = {name: os.pipe() for name in ("result", "out", "err")}
        fds = {f"{name}_w": pair[1] for name, pair in self.pipes.items()}
        # After each cell the runner waits for this acknowledgement, so the supervisor has read
        # all of that cell's stdout and stderr before the next cell can write any.
        ack_r, self.ack_w = os.pipe()
        job_r, self.job_w = os.pipe()
        fds.update(ack_r=ack_r, job_r=job_r)
        facts = {"namespaces": {"pid": _fresh_pid_namespace_for_children()}}
        server_pid = os.getpid()
        self.child = os.fork()
        if self.child == 0:
            try:
                _cell_runner(
                    setup, server_pid=server_pid, fds=fds, facts=facts, fallback_dir=self.fallback_dir
                )
            except BaseException:  # noqa: BLE001 - reported on stderr, then a plain crash
                with contextlib.suppress(Exception):
                    traceback.print_exc()
            finally:
                os._exit(70)
        for fd in fds.values():
            os.close(fd)

    def usable_for(self, job: dict) -> bool:
        if setup_of(job) != self.setup:
            return False
        pid, _ = os.waitpid(self.child, os.WNOHANG)
        return pid == 0  # still waiting for its job

    def hand(self, job: dict) -> bool:
        """Give the child its cells; False if it is gone (the caller then grades a crash)."""
        try:
            write_frame(self.job_w, {"cells": job["cells"], "cpu_s": job["cpu_s"]})
            return True
        except OSError:
            return False
        finally:
            os.close(self.job_w)

    def release(self) -> None:
        """Close the server's ends once the job is over (or the standby is discarded)."""
        for pair in self.pipes.values():
            with contextlib.suppress(OSError):
                os.close(pair[0])
        with contextlib.suppress(OSError):
            os.close(self.ack_w)
        shutil.rmtree(self.fallback_dir, ignore_errors=True)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.job_w)  # the child reads end of file and exits
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.child, 0)
        self.release()


def run_job(job: dict, *, emit, control_fd: int | None = None, standby: Standby | None = None) -> bool:
    """Run one answer; ``emit`` receives each cell's result frame, then the end frame.

    Uses ``standby`` when it was prepared for this job's set-up, else forks a fresh child.
    Returns False when the caller has gone away (the server should exit).
    """
    limits = Limits(**job["limits"])
    job = dict(job, cpu_s=limits.cpu_s or answer_timeout(job["cells"], limits) * cpu_share(limits) + 5)
    state = _Job(job, emit)
    prepared = standby is not None and standby.usable_for(job)
    if standby is not None and not prepared:
        standby.discard()
    if not prepared:
        standby = Standby(setup_of(job))
    standby.hand(job)
    child = standby.child
    caller_alive = True
    state.ack_fd = standby.ack_w
    try:
        caller_alive = _watch(
            state, child, {name: pair[0] for name, pair in standby.pipes.items()}, control_fd
        )
    finally:
        _kill_job(state, child)
        standby.release()
    state.finish()
    emit({"t": "end", "info": state.info.__dict__})
    return caller_alive


def _reap(state: _Job, child: int) -> None:
    """Kill the child's process group, then reap the child (in that order: until it is reaped,
    the child's pid, hence its group id, cannot be recycled for someone else)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child, signal.SIGKILL)
    _, status, usage = os.wait4(child, 0)
    state.exit = {"code": os.waitstatus_to_exitcode(status), "cpu_s": usage.ru_utime + usage.ru_stime}


def _kill_job(state: _Job, child: int) -> None:
    if state.exit is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)  # PID 1 of its namespace: the namespace dies with it
        _reap(state, child)
    state.info.sandbox["swept_processes"] = sweep_orphans()


def _watch(state: _Job, child: int, readers: dict[str, int], control_fd: int | None) -> bool:
    limits = state.limits
    decoder = FrameDecoder()
    selector = selectors.DefaultSelector()
    for name, fd in readers.items():
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    child_exit = os.pidfd_open(child)
    selector.register(child_exit, selectors.EVENT_READ, "exit")
    if control_fd is not None:
        selector.register(control_fd, selectors.EVENT_READ, "control")
    started = time.monotonic()
    answer_deadline = started + answer_timeout(state.cells, limits)
    next_tree_poll = started + TREE_POLL_S
    caller_alive = True

    def cell_deadline() -> float:
        if not state.ready:
            return started + limits.setup_timeout_s
        if state.current >= len(state.cells):
            return answer_deadline
        return state.cell_started + state.cells[state.current]["options"]["timeout"]

    def drain(name: str) -> bool:
        """Read what is there; False at end of file."""
        while True:
            try:
                data = os.read(readers[name], 1 << 16)
            except BlockingIOError:
                return True
            if not data:
                return False
            if name == "result":
                for frame in decoder.feed(data):
                    handle(frame)
                continue
            room = max(0, limits.output_bytes - state.output_total)
            state.output_total += len(data)
            (state.out if name == "out" else state.err).extend(data[:room])
            if state.output_total > limits.output_bytes:
                state.stop(CellStatus.OUTPUT_LIMIT, f"output limit of {limits.output_bytes} bytes exceeded")
                return True

    def handle(frame: dict) -> None:
        kind = frame.get("t")
        if kind == "ready" and not state.ready:
            state.ready = True
            state.cell_started = time.monotonic()
            state.info.sandbox.update(frame.get("facts", {}))
            state.baseline_rss = _read_rss(child) or 0
        elif kind == "cell" and state.ready and not state.done:
            drain("out")
            drain("err")
            state.grade(frame)
            with contextlib.suppress(OSError):
                os.write(state.ack_fd, b"k")
        elif kind == "done" and state.ready:
            state.done = True
        else:
            raise ValueError(f"unexpected frame {kind!r}")

    def read_all(name: str) -> None:
        if readers[name] not in selector.get_map():
            return
        try:
            if not drain(name):
                selector.unregister(readers[name])
        except (ValueError, KeyError, TypeError) as exc:
            state.stop(CellStatus.CRASHED, f"the sandbox broke the protocol: {exc}")

    try:
        while state.stop_reason is None and state.exit is None:
            now = time.monotonic()
            if now >= min(cell_deadline(), answer_deadline):
                if not state.ready:
                    state.stop(CellStatus.CRASHED, "the sandbox did not start in time")
                elif now >= answer_deadline:
                    limit = answer_deadline - started
                    state.stop(CellStatus.TIMEOUT, f"the answer's time limit of {limit:g} s ran out")
                else:
                    timeout = state.cells[state.current]["options"]["timeout"]
                    state.stop(CellStatus.TIMEOUT, f"cell timed out after {timeout:g} s")
                break
            wait = min(cell_deadline(), answer_deadline, now + RSS_POLL_S) - now
            for key, _ in selector.select(max(wait, 0)):
                name = key.data
                if name == "control":
                    data = os.read(control_fd, 1 << 16)
                    if not data or b"cancel" in data:
                        caller_alive = bool(data)
                        state.stop(CellStatus.SKIPPED, "the run was cancelled")
                elif name == "exit":
                    _reap(state, child)
                    # The child is gone, so everything it wrote is already in the pipes.
                    read_all("result")
                else:
                    read_all(name)
                if state.stop_reason is not None:
                    break
            if state.ready and state.stop_reason is None and state.exit is None:
                tree = time.monotonic() >= next_tree_poll
                _check_memory(state, child, tree=tree)
                if tree:
                    next_tree_poll = time.monotonic() + TREE_POLL_S
        cpu_s = state.job["cpu_s"]
        if not state.done and state.stop_reason is None and state.exit and state.exit["cpu_s"] >= cpu_s - 1:
            state.stop(CellStatus.TIMEOUT, f"CPU time limit of {cpu_s:g} s reached")
        for name in ("out", "err"):
            with contextlib.suppress(OSError):
                drain(name)
    finally:
        selector.close()
        os.close(child_exit)
    return caller_alive


def _check_memory(state: _Job, child: int, *, tree: bool) -> None:
    """Kill on RSS growth past the limit: the runner often, its descendants twice a second."""
    used = (_read_rss(child) or 0) - state.baseline_rss
    if tree:
        # Forked children share the runner's pages; their anonymous RSS is counted, which
        # over-counts copy-on-write pages: strict, never lenient.
        used += sum(_read_rss(pid, "RssAnon:") or 0 for pid in _children_of({child}))
    if used > state.limits.memory_bytes:
        mib = state.limits.memory_bytes // 2**20
        state.stop(CellStatus.MEMORY_LIMIT, f"memory limit of {mib} MiB exceeded")
