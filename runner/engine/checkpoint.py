"""In the fork server: try-it runs whose published prefix is not paid again on every run.

A try job (the published cells before the edited one, then the edited cell) is run by a
checkpoint per (prefix cells, data files, set-up, limits): a sandbox the template forked like
any other, which ran the prefix once and then stays, forking one re-isolated child per reader
run (runner.engine.checkpoint_child). The first run of a prefix builds its checkpoint (the
prefix runs, ``checkpoint: "new"``); the next ones fork from it (``checkpoint: "warm"``), so a
reader waits only for their own cell. Checkpoints are kept in an LRU bounded by a count and a
memory budget (each one's proportional share of memory, PSS, from /proc).

Where a checkpoint cannot serve (a CUDA cell, a kernel without unprivileged user namespaces or
a fresh root, a prefix that failed) the job runs the usual way, prefix included, and says why.
A checkpoint that dies mid-run ends that reader's run as ``crashed`` with a clear detail and
is dropped; the next run builds a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import time
import traceback
from collections import OrderedDict

from runner.engine import supervisor, watch
from runner.engine.child import cpu_share
from runner.engine.protocol import CellStatus, Limits, write_frame
from runner.engine.standby import Standby, setup_of

PREFIX_OK = {"passed", "ran", "mismatch", "figure_mismatch", "nondeterministic"}
REPLY_TIMEOUT_S = 10.0
DEFAULT_MAX = 4
DEFAULT_BUDGET_BYTES = 2 * 1024**3
READER_FDS = ("out_w", "err_w", "result_w", "ack_r", "job_r", "exit_w", "pid_sock")
READ_ONLY_TREES = ("/usr/", "/lib")  # bound read-only in the fresh root: sharing them leaks nothing
NAMESPACES_APART = ("user", "mnt", "pid", "net", "ipc", "uts")
CANCELLED, CALLER_GONE = "cancelled", "the caller has gone"
READER_CPU_HEADROOM_S = 660  # the checkpoint's RLIMIT_CPU is its readers' ceiling: room for theirs


class CheckpointBroken(RuntimeError):
    """The checkpoint could not fork a reader (it died, or refused): drop it. ``permanent``:
    no checkpoint of this server ever will (the kernel refuses the readers' namespaces)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _json_object(data: bytes) -> dict:
    """A message from the sandbox: untrusted, so anything but a JSON object is a refusal."""
    try:
        value = json.loads(data) if data else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise CheckpointBroken("the checkpoint answered nonsense")
    return value


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as status:
            return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
    except OSError as exc:
        raise CheckpointBroken(f"process {pid} is gone") from exc


def memory_bytes(pid: int) -> int:
    """The process's proportional share of memory (PSS): copy-on-write pages counted once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return watch.read_rss(pid, "RssAnon:") or 0


def tree_memory_bytes(pid: int) -> int:
    return sum(memory_bytes(p) for p in {pid} | watch.children_of({pid}))


class Checkpoint(Standby):
    """A sandbox that runs the prefix, then forks readers on request over its control socket."""

    def __init__(self, setup: dict, template):
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control.settimeout(REPLY_TIMEOUT_S)
        self._theirs = theirs
        self.prefix_frames: list[dict] = []
        self.facts: dict = {}
        self.spare: Reader | None = None
        self.caller_alive = True
        self.cancelled = False
        super().__init__({**setup, "checkpoint": True}, template)
        theirs.close()

    def _fork(self, setup, fds):  # Standby.__init__ calls this
        return self.template.fork_child(
            setup=setup, fallback_dir=self.fallback_dir, fds={**fds, "control": self._theirs.fileno()}
        )

    def alive(self) -> bool:
        exited, _, _ = select.select([self.exit_fd], [], [], 0)
        return not exited

    def run_prefix(self, job: dict, *, control_fd: int | None, emit) -> bool:
        """Run the prefix cells; True when every one ran to its end and the sandbox can fork
        readers (a fresh root, a PID namespace, seccomp). Their results are kept, to be sent
        with each reader's run; ``emit`` gets a progress frame as each one finishes."""

        def keep(frame: dict) -> None:
            self.prefix_frames.append(frame)
            emit({"t": "progress", "done": len(self.prefix_frames)})

        state = supervisor._Job(job, keep)
        self.hand(job)
        state.ack_fd = self.ack_w
        state.wait_child = self.reap
        readers = {name: pair[0] for name, pair in self.pipes.items()}
        self.caller_alive = watch.watch(state, self.child, readers, control_fd, until_done=True)
        # The reader left (or cancelled) while the published cells ran: nothing more to run.
        self.cancelled = not self.caller_alive or (
            state.stop_reason is not None and state.stop_reason[0] == CellStatus.SKIPPED
        )
        self.facts = dict(state.info.sandbox)
        layers = self.facts.get("layers", {})
        usable = all(layers.get(name) for name in ("fresh root", "seccomp", "pid namespace"))
        ok = state.done and state.stop_reason is None and state.exit is None and usable
        ok = ok and all(f["result"]["status"] in PREFIX_OK for f in self.prefix_frames)
        for pair in self.pipes.values():  # the prefix is over: nothing more comes on them
            with contextlib.suppress(OSError):
                os.close(pair[0])
        self.pipes = {}  # closed: never again (the numbers may be another's by then)
        return ok and len(self.prefix_frames) == len(job["cells"])

    def fork_reader(self) -> Reader:
        reader = Reader()
        try:
            try:
                socket.send_fds(
                    self.control, [json.dumps({"fds": list(READER_FDS)}).encode()], reader.theirs()
                )
            finally:
                reader.close_theirs()  # only the reader holds them now: its end is our end of file
            reply = _json_object(self.control.recv(4096))
            if not reply.get("ok"):
                raise CheckpointBroken(
                    f"the checkpoint did not fork a reader ({str(reply.get('error'))[:200]})"
                )
            reader.receive_pid(timeout_s=REPLY_TIMEOUT_S)
            reader.check_isolated(checkpoint_pid=self.child)
        except Exception as exc:  # noqa: BLE001 - whatever the sandbox sent, this reader is off
            reader.release()
            broken = exc if isinstance(exc, CheckpointBroken) else CheckpointBroken(str(exc))
            raise CheckpointBroken(
                f"the checkpoint could not fork a reader: {broken}", broken.permanent
            ) from exc
        return reader

    def check_quiet(self) -> str | None:
        """Why this checkpoint may not serve readers, from outside: what its cells left behind
        that readers would share (threads, processes, shared writable memory); None if nothing."""
        status = _status(self.child)
        if status.get("Threads") != "1":
            return "the published cells left threads running"
        if watch.children_of({self.child}):
            return "the published cells left processes running"
        with open(f"/proc/{self.child}/maps") as maps:
            for line in maps:
                fields = line.split()
                path = fields[5] if len(fields) > 5 else ""
                if "s" in fields[1] and not ("w" not in fields[1] and path.startswith(READ_ONLY_TREES)):
                    return "the published cells hold shared memory, which readers would share"
        return None

    def take_reader(self) -> Reader:
        """The reader forked and checked ahead of time, if it is still waiting; else a new one."""
        spare, self.spare = self.spare, None
        if spare is not None and spare.waiting():
            spare.prepared = True
            return spare
        if spare is not None:
            spare.release()
        return self.fork_reader()

    def prepare_spare(self) -> None:
        """Fork and check the next reader now, while nobody waits: off the next run's path,
        as the standby child is for a verification run."""
        if self.spare is None and self.alive():
            try:
                self.spare = self.fork_reader()
            except CheckpointBroken:
                self.spare = None  # the next run forks one itself (and says why if it fails)

    def release(self) -> None:
        if self.spare is not None:
            self.spare.release()
            self.spare = None
        with contextlib.suppress(OSError):
            self.control.close()
        super().release()


class Reader:
    """The server's ends of one reader child's pipes; ``child`` is its pid as the server sees it."""

    def __init__(self):
        self.pipes = {name: os.pipe() for name in ("result", "out", "err")}
        self.ack_r, self.ack_w = os.pipe()
        self.job_r, self.job_w = os.pipe()
        self.exit_r, self.exit_w = os.pipe()
        self.pid_ours, self.pid_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.child: int | None = None
        self.prepared = False  # forked ahead of time (a spare), not on this run's path
        self.pidfd: int | None = None
        self.exit: dict | None = None

    def theirs(self) -> list[int]:
        ends = {
            "out_w": self.pipes["out"][1],
            "err_w": self.pipes["err"][1],
            "result_w": self.pipes["result"][1],
            "ack_r": self.ack_r,
            "job_r": self.job_r,
            "exit_w": self.exit_w,
            "pid_sock": self.pid_theirs.fileno(),
        }
        return [ends[name] for name in READER_FDS]

    def close_theirs(self) -> None:
        for fd in (self.pipes["out"][1], self.pipes["err"][1], self.pipes["result"][1]):
            with contextlib.suppress(OSError):
                os.close(fd)
        for fd in (self.ack_r, self.job_r, self.exit_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.pid_theirs.close()

    def receive_pid(self, *, timeout_s: float) -> None:
        self.pid_ours.settimeout(timeout_s)
        message, fds, _, _ = socket.recv_fds(self.pid_ours, 1024, 1)
        if not fds:
            report = self._exit_report(timeout_s=1.0)
            error = str(report.get("error") or message.decode(errors="replace") or "no reason given")[:300]
            # R reports a refused unshare(): the kernel (or container) has no user namespaces for it.
            raise CheckpointBroken(
                f"the reader's sandbox did not start: {error}", error.startswith("unshare")
            )
        self.pidfd = fds[0]
        with open(f"/proc/self/fdinfo/{self.pidfd}") as info:
            for line in info:
                if line.startswith("Pid:"):
                    self.child = int(line.split()[1])
        if not self.child or self.child < 0:
            raise CheckpointBroken("the reader child exited before it could run")
        # R1 closes its end once it has sent this: then its descriptors are final.
        if self.pid_ours.recv(16):
            raise CheckpointBroken("the reader child said more than its pid")

    def check_isolated(self, *, checkpoint_pid: int) -> None:
        """What R1 says of itself, checked from outside before it gets the reader's cell: no
        capabilities, no way to gain any, the stacked seccomp filter, namespaces apart from the
        checkpoint's, one thread, and no descriptor but /dev/null and this run's own pipes."""
        status = _status(self.child)
        wanted = {"CapEff": "0" * 16, "CapPrm": "0" * 16, "NoNewPrivs": "1", "Seccomp": "2", "Threads": "1"}
        wrong = {key: status.get(key) for key, value in wanted.items() if status.get(key) != value}
        if wrong or int(status.get("Seccomp_filters", "0")) < 2:
            raise CheckpointBroken(
                f"the reader's sandbox is not as set up: {wrong or status.get('Seccomp_filters')}"
            )
        for name in NAMESPACES_APART:
            if os.readlink(f"/proc/{self.child}/ns/{name}") == os.readlink(
                f"/proc/{checkpoint_pid}/ns/{name}"
            ):
                raise CheckpointBroken(f"the reader shares the checkpoint's {name} namespace")
        ours = {f"pipe:[{os.fstat(fd).st_ino}]" for fd in (self.ack_w, self.job_w, self.exit_r)}
        ours |= {f"pipe:[{os.fstat(pair[0]).st_ino}]" for pair in self.pipes.values()}
        for entry in os.listdir(f"/proc/{self.child}/fd"):
            target = os.readlink(f"/proc/{self.child}/fd/{entry}")
            if target not in ours and target != "/dev/null":
                raise CheckpointBroken(f"the reader holds a descriptor it should not: {target[:80]}")

    def hand(self, job: dict) -> bool:
        try:
            write_frame(self.job_w, {"cells": job["cells"], "cpu_s": job["cpu_s"]})
            return True
        except OSError:
            return False
        finally:
            os.close(self.job_w)
            self.job_w = None

    def reap(self) -> dict:
        """R's report of R1's exit; a killed checkpoint (R killed too) reads as SIGKILL."""
        if self.exit is None:
            report = self._exit_report(timeout_s=REPLY_TIMEOUT_S)
            code, cpu_s = report.get("code"), report.get("cpu_s")
            self.exit = {
                "code": code if isinstance(code, int) and -64 < code < 256 else -9,
                "cpu_s": float(cpu_s) if isinstance(cpu_s, int | float) else 0.0,
                "swept": 0,
            }
        return self.exit

    def waiting(self) -> bool:
        """Still alive, blocked on its job pipe (a spare reader)."""
        if self.pidfd is None:
            return False
        exited, _, _ = select.select([self.pidfd], [], [], 0)
        return not exited

    def _exit_report(self, *, timeout_s: float) -> dict:
        """R's one JSON object on the exit pipe; {} when there is none (R killed) or it is junk."""
        ready, _, _ = select.select([self.exit_r], [], [], timeout_s)
        try:
            return _json_object(os.read(self.exit_r, 4096) if ready else b"")
        except (CheckpointBroken, OSError):
            return {}

    def release(self) -> None:
        if self.pidfd is not None and self.job_w is not None:  # never handed its job: a spare
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        for pair in self.pipes.values():
            with contextlib.suppress(OSError):
                os.close(pair[0])
        for fd in (self.ack_w, self.exit_r, self.pidfd, self.job_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pid_ours.close()


class CheckpointCache:
    """The fork server's checkpoints, least recently used first, under a count and a budget."""

    def __init__(self):
        self.entries: OrderedDict[str, Checkpoint] = OrderedDict()
        self.max_count = DEFAULT_MAX
        self.budget_bytes = DEFAULT_BUDGET_BYTES
        self.evicted = 0
        # Why this server's checkpoints cannot fork readers at all (a kernel or a container
        # that refuses unprivileged user namespaces): then every try job runs the usual way.
        self.disabled: str | None = None
        self.refused: OrderedDict[str, str] = OrderedDict()  # prefixes no checkpoint may hold, and why

    def configure(self, settings: dict) -> None:
        self.max_count = max(0, int(settings.get("max", self.max_count)))
        self.budget_bytes = max(0, int(settings.get("budget_bytes", self.budget_bytes)))

    @staticmethod
    def key(job: dict) -> str:
        payload = {
            "cells": [[c["code"], c["options"], c.get("expected")] for c in job["cells"][:-1]],
            "files": job.get("files") or [],
            "setup": setup_of(job),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def take(self, key: str) -> Checkpoint | None:
        found = self.entries.get(key)
        if found is None:
            return None
        if not found.alive():
            self.drop(key)
            return None
        self.entries.move_to_end(key)
        return found

    def put(self, key: str, checkpoint: Checkpoint) -> None:
        self.entries[key] = checkpoint
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_count or (
            len(self.entries) > 1 and self.total_bytes() > self.budget_bytes
        ):
            oldest = next(iter(self.entries))
            self.drop(oldest)
            self.evicted += 1

    def refuse(self, key: str, reason: str) -> None:
        self.refused[key] = reason
        while len(self.refused) > 256:
            self.refused.popitem(last=False)

    def total_bytes(self) -> int:
        """PSS of every checkpoint with its spare reader: pages they share are counted once."""
        return sum(tree_memory_bytes(c.child) for c in self.entries.values())

    def drop(self, key: str) -> None:
        checkpoint = self.entries.pop(key, None)
        if checkpoint is not None:
            checkpoint.discard()

    def close(self) -> None:
        for key in list(self.entries):
            self.drop(key)


def unusable_reason(job: dict) -> str | None:
    if len(job["cells"]) < 2:
        return "no published cells before the edited one"
    if job.get("has_cuda") or any(c["options"].get("device", "cpu") != "cpu" for c in job["cells"]):
        return "a CUDA cell: CUDA state does not survive a fork"
    return None


def run_try(
    job: dict, *, emit, template, control_fd: int | None, cache: CheckpointCache, standby=None
) -> bool:
    """Run a try job through a checkpoint (built now, or warm); the usual way where none serves."""
    cache.configure(job.get("try_checkpoint") or {})
    reason = (
        unusable_reason(job) or cache.disabled or (None if cache.max_count else "checkpoints are turned off")
    )
    if reason is None:
        if standby is not None:
            # Gone first: a checkpoint dropped below has the template sweep its children,
            # and the standby is one of them.
            standby.discard()
            standby = None
        key = cache.key(job)
        reason = cache.refused.get(key)
    if reason is None:
        checkpoint = cache.take(key)
        state = "warm"
        if checkpoint is None:
            (checkpoint, reason), state = _build(job, template, control_fd, emit), "new"
            if reason in (CANCELLED, CALLER_GONE):
                now = time.time()
                info = {
                    "started_at": now,
                    "finished_at": now,
                    "outcome": "skipped",
                    "detail": "the run was cancelled",
                }
                emit({"t": "end", "info": info})
                return reason == CANCELLED  # False: the caller has gone, the server exits
            if checkpoint is None:
                cache.refuse(key, reason)  # this answer's next runs go the usual way at once
            else:
                cache.put(key, checkpoint)
        if checkpoint is not None:
            try:
                return _run_reader(
                    job, checkpoint, state=state, emit=emit, control_fd=control_fd, cache=cache, key=key
                )
            except CheckpointBroken as broken:
                cache.drop(key)
                reason = str(broken)
                if broken.permanent:
                    cache.disabled = f"checkpoints are off in this worker: {broken}"
    return supervisor.run_job(
        job, emit=_noting(emit, reason), template=template, control_fd=control_fd, standby=standby
    )


def _noting(emit, reason: str | None):
    def emit_with_reason(frame: dict) -> None:
        if frame.get("t") == "end":
            frame["info"]["sandbox"]["checkpoint"] = "none"
            frame["info"]["sandbox"]["checkpoint_skipped"] = reason
        emit(frame)

    return emit_with_reason


def _cpu_s(job: dict) -> float:
    limits = Limits(**job["limits"])
    return limits.cpu_s or watch.answer_timeout(job["cells"], limits) * cpu_share(limits) + 5


def _build(job: dict, template, control_fd: int | None, emit) -> tuple[Checkpoint | None, str | None]:
    """A checkpoint that ran the prefix and left nothing readers would share; else why not."""
    prefix = {**job, "cells": job["cells"][:-1]}
    prefix["cpu_s"] = _cpu_s(prefix) + READER_CPU_HEADROOM_S
    checkpoint = Checkpoint(setup_of(job), template)
    reason = "the published cells did not run cleanly in a checkpoint"
    try:
        if checkpoint.run_prefix(prefix, control_fd=control_fd, emit=emit):
            reason = checkpoint.check_quiet()
            if reason is None:
                return checkpoint, None
        elif checkpoint.cancelled:
            reason = CANCELLED if checkpoint.caller_alive else CALLER_GONE
    except Exception:  # noqa: BLE001 - whatever broke, the job runs the usual way
        traceback.print_exc()  # the fork server's stderr: the worker's log
    checkpoint.discard()
    return None, reason


def _run_reader(job, checkpoint: Checkpoint, *, state: str, emit, control_fd, cache, key) -> bool:
    reader = checkpoint.take_reader()  # before any frame goes out: a failure here falls back
    edited = {**job, "cells": job["cells"][-1:]}
    edited["cpu_s"] = _cpu_s(edited)
    for frame in checkpoint.prefix_frames:
        emit(frame)
    run = supervisor._Job(edited, emit)
    run.info.sandbox.update(checkpoint.facts)
    run.info.sandbox.update(
        checkpoint=state,
        checkpoint_pid=checkpoint.child,  # as the worker sees it: for operators (and the tests' kill)
        checkpoints_held=len(cache.entries),
        checkpoints_evicted=cache.evicted,
        reader_prepared=reader.prepared,
    )
    caller_alive = True
    try:
        if not reader.hand(edited):
            run.stop(CellStatus.CRASHED, "the reader's sandbox did not take its cell")
        run.ack_fd = reader.ack_w
        run.wait_child = reader.reap
        run.kill_group = False  # R reaps R1 at once: its number could name another group by then
        readers = {name: pair[0] for name, pair in reader.pipes.items()}
        caller_alive = watch.watch(run, reader.child, readers, control_fd, child_fd=reader.pidfd)
    finally:
        if run.exit is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                # PID 1 of its namespace: everything it started goes too. By pidfd: the
                # number could name another process once R1 is gone.
                signal.pidfd_send_signal(reader.pidfd, signal.SIGKILL)
            watch.reap(run, reader.child)
        reader.release()
    if not run.done:
        # A killed checkpoint takes its readers with it, and finishes dying just after them.
        select.select([checkpoint.exit_fd], [], [], 0.5)
    gone = not checkpoint.alive()
    if gone:
        cache.drop(key)
    if gone and not run.done:
        run.stop(
            CellStatus.CRASHED, "the checkpoint holding the published cells' state stopped; run it again"
        )
    run.finish()
    emit({"t": "end", "info": run.info.__dict__})
    if caller_alive and cache.entries.get(key) is checkpoint:
        checkpoint.prepare_spare()
    return caller_alive
