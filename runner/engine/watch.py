"""The watch loop: read a child's pipes, grade as reports arrive, enforce time and memory.

Also the clean-up helpers: reaping the child, sweeping orphans the (subreaper) server
inherited, and reading a process tree's memory from /proc.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time

from runner.engine.protocol import CellStatus, FrameDecoder
from runner.engine.report_check import ProtocolError, max_frame_bytes

MAX_ANSWER_TIMEOUT_S = 600.0
RSS_POLL_S = 0.05
TREE_POLL_S = 0.5


def cell_timeout_message(timeout: float) -> str:
    """What an author reads when a cell ran past its own limit: which limit, how to raise it."""
    raise_it = (
        f"raise it with timeout=SECONDS on the cell's ```python run line (at most {MAX_ANSWER_TIMEOUT_S:g})"
        if timeout < MAX_ANSWER_TIMEOUT_S
        else f"{MAX_ANSWER_TIMEOUT_S:g} s is the most a cell may have: make it cheaper"
    )
    return f"cell timed out after {timeout:g} s, its timeout= (default 60 s): {raise_it}"


def answer_timeout_message(limit: float) -> str:
    return (
        f"the answer's time limit of {limit:g} s ran out (the sum of its cells' timeout= values, at most "
        f"{MAX_ANSWER_TIMEOUT_S:g} s): raise the timeout= of the slow cells, make them cheaper, or split "
        "the answer"
    )


def answer_timeout(cells: list[dict], limits) -> float:
    if limits.answer_timeout_s is not None:
        return limits.answer_timeout_s
    return min(sum(c["options"]["timeout"] for c in cells), MAX_ANSWER_TIMEOUT_S)


def read_rss(pid: int, field: str = "VmRSS:") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return 0


def children_of(parents: set[int]) -> set[int]:
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


def sweep_orphans(spare: set[int] = frozenset(), reaped: dict | None = None) -> int:
    """Kill and reap every child of this (subreaper) server: the leftovers of a job. ``spare``:
    children to leave running (try-it checkpoints); one of them found dead is reaped and its
    status kept in ``reaped`` for the reap request that will ask for it."""
    swept = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return swept  # no child left at all
        if pid:
            if pid in spare and reaped is not None:
                reaped[pid] = (status, usage)
            else:
                swept += 1
            continue
        killed = 0
        for child in direct_children(os.getpid()) - set(spare):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
                killed += 1
        if killed:
            continue  # reaped by the wait above, on the next turn
        return swept
    return swept


def direct_children(parent: int) -> set[int]:
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


def reap(state, child: int) -> None:
    """Kill the child's process group, then reap the child (in that order: until it is reaped,
    the child's pid, hence its group id, cannot be recycled for someone else). The template,
    the child's parent, reaps it: ``state.wait_child`` asks it."""
    if getattr(state, "kill_group", True):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
    exit = state.wait_child()
    state.exit = {"code": exit["code"], "cpu_s": exit["cpu_s"]}
    state.swept = exit["swept"]


def watch(
    state,
    child: int,
    readers: dict[str, int],
    control_fd: int | None,
    *,
    until_done: bool = False,
    child_fd: int | None = None,
) -> bool:
    """Until the child exits or is stopped (``until_done``: or has reported all its cells, and
    lives on: a try-it checkpoint); False when the caller has gone away. ``child_fd``: a pidfd
    of the child already held (a try-it reader, which is not our child and may be gone)."""
    limits = state.limits
    decoder = FrameDecoder(max_bytes=max_frame_bytes(limits))
    selector = selectors.DefaultSelector()
    for name, fd in readers.items():
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    child_exit = os.dup(child_fd) if child_fd is not None else os.pidfd_open(child)
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
            facts = frame.get("facts", {})
            if not isinstance(facts, dict):
                raise ProtocolError("the sandbox's facts are not an object")
            state.ready = True
            state.cell_started = time.monotonic()
            state.info.sandbox.update(facts)
            state.baseline_rss = read_rss(child) or 0
        elif kind == "cell" and state.ready and not state.done:
            drain("out")
            drain("err")
            state.grade(frame)
            with contextlib.suppress(OSError):
                os.write(state.ack_fd, b"k")
        elif kind == "done" and state.ready and not state.done:
            state.done = True
        else:
            raise ProtocolError(f"unexpected frame {str(kind)[:40]!r}")

    def read_all(name: str) -> None:
        if readers[name] not in selector.get_map():
            return
        try:
            if not drain(name):
                selector.unregister(readers[name])
        except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError, ...
            # Whatever fails in decoding or grading a frame is the sandbox breaking the
            # protocol: this run ends, the server stays up for the next one.
            state.stop(CellStatus.CRASHED, f"the sandbox broke the protocol: {str(exc)[:300]}")

    try:
        while state.stop_reason is None and state.exit is None and not (until_done and state.done):
            now = time.monotonic()
            if now >= min(cell_deadline(), answer_deadline):
                if not state.ready:
                    state.stop(CellStatus.CRASHED, "the sandbox did not start in time")
                else:
                    limit = answer_deadline - started
                    timeout = state.cells[state.current]["options"]["timeout"]
                    # The answer's limit names the cells' sum; when this cell's own timeout is
                    # the whole of it (a one-cell answer), the cell's own limit is the one to raise.
                    if now >= answer_deadline and timeout + 0.5 < limit:
                        state.stop(CellStatus.TIMEOUT, answer_timeout_message(limit))
                    else:
                        state.stop(CellStatus.TIMEOUT, cell_timeout_message(timeout))
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
                    reap(state, child)
                    # The child is gone, so everything it wrote is already in the pipes.
                    read_all("result")
                else:
                    read_all(name)
                if state.stop_reason is not None:
                    break
            if state.ready and state.stop_reason is None and state.exit is None:
                tree = time.monotonic() >= next_tree_poll
                check_memory(state, child, tree=tree)
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


def check_memory(state, child: int, *, tree: bool) -> None:
    """Kill on RSS growth past the limit: the runner often, its descendants twice a second."""
    used = (read_rss(child) or 0) - state.baseline_rss
    if tree:
        # Forked children share the runner's pages; their anonymous RSS is counted, which
        # over-counts copy-on-write pages: strict, never lenient.
        used += sum(read_rss(pid, "RssAnon:") or 0 for pid in children_of({child}))
    if used > state.limits.memory_bytes:
        mib = state.limits.memory_bytes // 2**20
        state.stop(CellStatus.MEMORY_LIMIT, f"memory limit of {mib} MiB exceeded")
