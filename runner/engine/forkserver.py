"""The fork server: a long-lived process with NumPy, torch and matplotlib already imported.

    with ForkServer.start() as server:
        run = server.run_answer(parsed.cells)
        for result in run:          # one CellResult per cell, as soon as each finishes
            ...
        run.info                    # RunInfo: sandbox facts, start and end, outcome

The server is started with an environment built from an allow-list, so neither it nor any
child it forks ever holds the worker's secrets. It never initialises CUDA (a CUDA context does
not survive fork); cells that need CUDA initialise it in their own child. If the server itself
dies, the run in progress reports `crashed` and the next ``run_answer`` starts a new server.

Run as ``python -m runner.engine.forkserver``; it then speaks length-prefixed JSON on stdin/stdout.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from runner.engine.datafiles import files_to_job
from runner.engine.protocol import CellResult, CellStatus, Limits, RunInfo, read_frame, write_frame

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Passed through to the server (and, for CUDA_VISIBLE_DEVICES, to the cells): nothing else.
SERVER_ENV_ALLOW = ("PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")
CELL_ENV_ALLOW = ("CUDA_VISIBLE_DEVICES",)
# Readable by `nobody` on a developer machine: the SQLite database, uploads, local env files.
DEFAULT_HIDDEN_PATHS = (PROJECT_ROOT / "var", PROJECT_ROOT / ".env")
NOBODY_UID = 65534


def _cell_to_job(cell) -> dict:
    if isinstance(cell, dict):
        return cell
    return {
        "index": cell.index,
        "line": cell.line,
        "code": cell.code,
        "options": cell.options.as_dict(),
        "expected": cell.expected,
    }


class ServerDied(RuntimeError):
    pass


def kill_sandbox_user(uid: int) -> None:
    """Kill every process of the sandbox uid: what a cell left running escapes its server's
    death only where there is no PID namespace to die with it (a development machine's
    fallback; production refuses to start without one). Only a root worker whose cells ran as
    another uid may do this; kill(-1) as that uid signals its processes and no one else's."""
    if os.getuid() != 0 or uid in (0, os.getuid()):
        return
    kill = shutil.which("kill", path="/usr/bin:/bin")
    if kill is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [kill, "-KILL", "-1"], user=uid, group=uid, extra_groups=[], env={}, cwd="/",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False,
        )  # fmt: skip


class AnswerRun:
    """Iterate for each cell's CellResult as it finishes; then ``info`` holds the RunInfo."""

    def __init__(
        self,
        server: ForkServer,
        cells: list[dict],
        limits: Limits,
        files: list[dict] | None = None,
        extra: dict | None = None,
        on_progress=None,
    ):
        self.server = server
        self.extra = extra or {}
        self.on_progress = on_progress
        self.cells = cells
        self.limits = limits
        self.files = files or []
        self.results: list[CellResult] = []
        self.info: RunInfo | None = None
        self._iterator = self._iterate()

    def __iter__(self) -> Iterator[CellResult]:
        return self._iterator

    def __next__(self) -> CellResult:
        return next(self._iterator)

    def close(self) -> None:
        """Stop early: cancel the run and drain the server so it is ready for the next one."""
        self._iterator.close()

    def __enter__(self) -> AnswerRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def wait(self) -> tuple[list[CellResult], RunInfo]:
        for _ in self:
            pass
        return self.results, self.info

    def _iterate(self) -> Iterator[CellResult]:
        server = self.server
        server._ensure_running()
        started = time.time()
        grace = self.limits.setup_timeout_s + 30
        from runner.engine.supervisor import answer_timeout

        deadline = time.monotonic() + answer_timeout(self.cells, self.limits) + grace
        finished = False
        try:
            job = {**server._job(self.cells, self.limits), "files": self.files, **self.extra}
            server._send({"t": "run", "job": job})
            while True:
                frame = server._receive(deadline)
                if frame["t"] == "cell":
                    result = CellResult.from_json(frame["result"])
                    self.results.append(result)
                    yield result
                elif frame["t"] == "progress" and self.on_progress is not None:
                    self.on_progress(int(frame["done"]))  # a checkpoint's cells, as they finish
                elif frame["t"] == "end":
                    self.info = RunInfo(**frame["info"])
                    if not self.info.sandbox.get("namespaces", {}).get("pid", True):
                        server.pid_namespace_missing = True
                    finished = True
                    return
        except ServerDied as exc:
            server._discard()
            self.info = RunInfo(
                started_at=started, finished_at=time.time(), outcome="crashed", detail=str(exc)
            )
            finished = True
            yield from self._unreported(CellStatus.CRASHED, f"the fork server died: {exc}")
        finally:
            if not finished:
                # The caller stopped iterating: cancel, and read to the end so the server is
                # ready for the next answer.
                server._cancel_and_drain(deadline)

    def _unreported(self, first: CellStatus, detail: str) -> Iterator[CellResult]:
        done = {r.index for r in self.results}
        status = first
        for cell in self.cells:
            if cell["index"] in done:
                continue
            result = CellResult(
                index=cell["index"],
                line=cell["line"],
                status=status,
                expected=cell["expected"],
                error=detail,
            )
            status, detail = CellStatus.SKIPPED, "not run: the session ended before it"
            self.results.append(result)
            yield result


class ForkServer:
    def __init__(
        self,
        *,
        limits: Limits | None = None,
        python: str = sys.executable,
        sandbox_uid: int = NOBODY_UID,
        hidden_paths: Iterable[str | Path] = DEFAULT_HIDDEN_PATHS,
        data_dirs: Iterable[str | Path] = (),
        hash_seed: int = 0,
    ):
        self.limits = limits or Limits()
        # Hash randomisation is fixed when the interpreter starts, so a second, independent
        # sandbox (a new revision runs twice) needs a server started with another seed.
        self.hash_seed = hash_seed
        self.python = python
        self.sandbox_uid = sandbox_uid
        self.hidden_paths = [str(p) for p in hidden_paths]
        # Shown to the cells read-only, at the same path (data sets the answers read).
        self.data_dirs = [str(p) for p in data_dirs]
        self.process: subprocess.Popen | None = None
        self.hello: dict = {}
        # Seen in a run's facts: its cells had no PID namespace to die with (see _discard).
        self.pid_namespace_missing = False

    @classmethod
    def start(cls, **kwargs) -> ForkServer:
        server = cls(**kwargs)
        server._spawn()
        return server

    def __enter__(self) -> ForkServer:
        self._ensure_running()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def isolation(self) -> dict:
        """What isolation.probe_isolation() found when this server started: {"layers", "errors"}."""
        return self.hello.get("isolation", {})

    @property
    def has_cuda(self) -> bool:
        return bool(self.hello.get("has_cuda"))

    def resident_memory_bytes(self) -> int | None:
        from runner.engine.supervisor import read_rss

        return read_rss(self.pid) if self.pid else None

    def run_answer(
        self,
        cells: Iterable,
        *,
        limits: Limits | None = None,
        answer_timeout_s: float | None = None,
        files: dict[str, bytes] | None = None,
        checkpoint: dict | None = None,
        on_progress=None,
    ) -> AnswerRun:
        """Start running ``cells`` (answers.cells.Cell objects) in one fresh sandboxed child;
        ``files`` ({name: content}) are the answer's data files, read-only in its working directory.
        ``checkpoint`` ({"max", "budget_bytes"}): a try-it run, whose cells before the last
        come from a checkpoint kept warm in the server (runner.engine.checkpoint);
        ``on_progress(done)`` is called as each of those finishes while the checkpoint is built
        (their results come with the last cell's)."""
        limits = limits or self.limits
        if answer_timeout_s is not None:
            limits = replace(limits, answer_timeout_s=answer_timeout_s)
        extra = {"try_checkpoint": checkpoint} if checkpoint is not None else None
        return AnswerRun(
            self, [_cell_to_job(c) for c in cells], limits, files_to_job(files), extra, on_progress
        )

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            process.stdout.close()

    # --- plumbing ---------------------------------------------------------------------------
    def _spawn(self) -> None:
        env = {name: os.environ[name] for name in SERVER_ENV_ALLOW if name in os.environ}
        env.update(
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONHASHSEED=str(self.hash_seed),
            MPLBACKEND="Agg",
            PYTHONDONTWRITEBYTECODE="1",
            KB_FORKSERVER_PARENT=str(os.getpid()),  # serve() dies with this process
        )
        self.process = subprocess.Popen(
            [self.python, "-m", "runner.engine.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
        )
        self.hello = self._receive(time.monotonic() + 120)

    def _ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._discard()
            self._spawn()

    def _discard(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
            if self.pid_namespace_missing or not self.isolation.get("layers", {}).get("pid namespace", True):
                kill_sandbox_user(self.sandbox_uid)

    def _job(self, cells: list[dict], limits: Limits) -> dict:
        return {
            "cells": cells,
            "limits": limits.as_dict(),
            "uid": self.sandbox_uid,
            "hidden_paths": self.hidden_paths,
            "data_dirs": self.data_dirs,
            "has_cuda": self.has_cuda,
            "env": {name: os.environ[name] for name in CELL_ENV_ALLOW if name in os.environ},
        }

    def _send(self, message: dict) -> None:
        try:
            write_frame(self.process.stdin.fileno(), message)
        except (OSError, AttributeError) as exc:
            raise ServerDied(f"cannot write to the fork server: {exc}") from exc

    def _receive(self, deadline: float) -> dict:
        if self.process is None:
            raise ServerDied("no fork server")
        fd = self.process.stdout.fileno()
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not ready:
            raise ServerDied("the fork server stopped answering")
        try:
            frame = read_frame(fd)
        except (OSError, ValueError) as exc:
            raise ServerDied(str(exc)) from exc
        if frame is None:
            code = self.process.wait()
            raise ServerDied(f"the fork server exited with code {code}")
        return frame

    def _cancel_and_drain(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self._send({"t": "cancel"})
            while self._receive(deadline)["t"] != "end":
                pass
        except ServerDied:
            self._discard()


# --- the server process -------------------------------------------------------------------------


def _preload() -> None:
    """Import and warm up the libraries once, so each child starts with them ready."""
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt
    import numpy
    import numpy.random
    import torch

    import runner.engine.cellexec
    import runner.engine.seccomp_filter

    runner.engine.seccomp_filter.available()  # load libseccomp once, for every child
    _preload_notebook_stack()

    # Tiny enough to stay single-threaded: no OpenMP pool exists when the server forks.
    repr(torch.ones(3).sum())
    repr(numpy.ones(3).sum())
    # The first optimizer imports torch._dynamo (about 1.8 s here, +70 MB shared): pay it once
    # in the server, not in every answer that trains something. It starts no thread.
    torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    runner.engine.cellexec.seed_everything()
    figure = plt.figure()
    figure.gca().plot([0, 1], [0, 1])
    figure.savefig(io.BytesIO(), format="png")
    plt.close("all")
    gc.collect()
    gc.freeze()  # children need not scan the preloaded objects (fewer copy-on-write faults)


# The data-science stack, imported once here rather than in every answer that uses it
# (bench/README.md, "The data-science stack in the fork server": seconds per answer saved,
# shared copy-on-write). None of these imports starts a thread.
NOTEBOOK_STACK = (
    "IPython.core.formatters",
    "IPython.core.inputtransformer2",
    "IPython.core.magics.execution",
    "IPython.display",
    "IPython.lib.pretty",
    "pandas",
    "scipy.stats",
    "sklearn.datasets",
    "sklearn.decomposition",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
)


def _preload_notebook_stack() -> None:
    import importlib

    for name in NOTEBOOK_STACK:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # an environment without the stack still runs plain cells
    from runner.engine import ipython_shell, notebook_display

    notebook_display.set_pandas_options()
    # Format once what a first cell would: IPython's formatters, a DataFrame's text and HTML.
    ipython_shell.mime_bundle(notebook_display.sample_frame())
    ipython_shell.transform("%time 1\n")


def _die_with_parent() -> None:
    """Never outlive the pool process that started this server (a pool process
    killed during the preload left its servers importing torch, unowned). Set first, before
    the slow preload; the kernel ties it to the parent *thread* that spawned us, so runner.pool
    spawns from threads that live as long as their process."""
    from runner.engine import sandbox

    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    if str(os.getppid()) != os.environ.get("KB_FORKSERVER_PARENT", str(os.getppid())):
        os._exit(1)  # the parent died before the signal was set


def serve() -> None:
    _die_with_parent()
    proto_out = os.dup(1)
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the protocol
    proto_in = 0
    _preload()
    from runner.engine import checkpoint, isolation, supervisor
    from runner.engine.fingerprint import environment_fingerprint

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller's Ctrl-C is the caller's to handle
    # Now, before the first job is read: every sandbox is forked from this pristine copy.
    template = supervisor.Template()
    fingerprint = environment_fingerprint()

    def emit(message: dict) -> None:
        write_frame(proto_out, message)

    emit(
        {
            "t": "hello",
            "pid": os.getpid(),
            "has_cuda": fingerprint["device"] == "cuda",
            "fingerprint": fingerprint,
            "isolation": isolation.probe_isolation(),
        }
    )
    standby = None
    checkpoints = checkpoint.CheckpointCache()  # try-it prefixes kept warm
    while True:
        message = read_frame(proto_in)
        if message is None:
            break
        if message.get("t") != "run":
            continue  # a stray "cancel" that arrives after its run ended
        job = message["job"]
        if job.get("try_checkpoint") is not None:
            try:
                alive = checkpoint.run_try(
                    job, emit=emit, template=template, control_fd=proto_in, cache=checkpoints, standby=standby
                )
            except Exception as exc:  # noqa: BLE001 - one broken try run must not end the server
                traceback.print_exc()
                checkpoints.close()  # whichever one broke is among them
                alive = True
                now = time.time()
                detail = f"the try run broke in the fork server: {exc}"[:300]
                emit(
                    {
                        "t": "end",
                        "info": {
                            "started_at": now,
                            "finished_at": now,
                            "outcome": "crashed",
                            "detail": detail,
                        },
                    }
                )
        else:
            alive = supervisor.run_job(
                job, emit=emit, template=template, control_fd=proto_in, standby=standby
            )
        if not alive:
            standby = None
            break
        # Fork and sandbox the next answer's child now, while nobody waits (~15 ms saved).
        standby = supervisor.Standby(supervisor.setup_of(job), template)
    if standby is not None:
        standby.discard()
    checkpoints.close()
    template.close()


if __name__ == "__main__":
    serve()
