"""The standby child: forked and sandboxed ahead of time, it waits on a pipe for its cells."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import tempfile

from runner.engine.protocol import write_frame

SETUP_KEYS = ("limits", "uid", "hidden_paths", "data_dirs", "has_cuda", "env")


def setup_of(job: dict) -> dict:
    """What a child needs before it knows its cells: a standby child is prepared from this."""
    return {key: job[key] for key in SETUP_KEYS}


class Standby:
    """A child forked and sandboxed ahead of time (namespaces, mounts), waiting for its job.

    Forking the preloaded server and building the sandbox take ~15 ms; done between answers,
    they are off the path of the next one. A job whose set-up differs gets a fresh child.
    """

    def __init__(self, setup: dict, template):
        self.setup = setup
        self.template = template
        self.exit: dict | None = None
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
        try:
            # Forked by the template, which has never seen a job, not by this server.
            self.child = self._fork(setup, fds)
        finally:
            for fd in fds.values():
                os.close(fd)
        # Not our child: its exit is seen on a pidfd, its status comes from the template.
        self.exit_fd = os.pidfd_open(self.child)

    def _fork(self, setup: dict, fds: dict[str, int]) -> int:
        return self.template.fork_child(setup=setup, fallback_dir=self.fallback_dir, fds=fds)

    def usable_for(self, job: dict) -> bool:
        if setup_of(job) != self.setup:
            return False
        exited, _, _ = select.select([self.exit_fd], [], [], 0)
        return not exited  # still waiting for its job

    def reap(self) -> dict:
        """The child's exit ({"code", "cpu_s", "swept"}), once it is dead (the caller killed it
        or saw it exit); asked of the template once, then remembered."""
        if self.exit is None:
            self.exit = self.template.reap(self.child)
        return self.exit

    def hand(self, job: dict) -> bool:
        """Give the child its cells; False if it is gone (the caller then grades a crash)."""
        try:
            write_frame(
                self.job_w, {"cells": job["cells"], "cpu_s": job["cpu_s"], "files": job.get("files", [])}
            )
            return True
        except OSError:
            return False
        finally:
            os.close(self.job_w)
            self.job_w = None  # closed once: its number may be another descriptor's later

    def release(self) -> None:
        """Close the server's ends once the job is over (or the standby is discarded)."""
        for pair in self.pipes.values():
            with contextlib.suppress(OSError):
                os.close(pair[0])
        for fd in (self.ack_w, self.exit_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.fallback_dir, ignore_errors=True)

    def discard(self) -> None:
        if self.job_w is not None:
            with contextlib.suppress(OSError):
                os.close(self.job_w)  # the child reads end of file and exits
            self.job_w = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signal.SIGKILL)
        try:
            self.reap()
        finally:
            self.release()
