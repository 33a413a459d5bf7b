"""The template: forked from the fork server right after the preload, before it reads any job.

Every sandboxed child is forked from the template, never from the server itself: the server
relays jobs and results (an answer's cells, outputs and figures pass through its memory), so
a child forked from it could read an earlier answer in its own pages (/proc/self/mem).
The template reads nothing but fork and reap requests. A job's cells travel from the
server to the child, and the child's results back, on pipes the template only passes on::

    fork server --- requests: set-up (JSON) + descriptors --->  template (a subreaper)
         |                                                        `- cell runner (the sandbox)
         `------------ cells, results, stdout and stderr ---------------^

Nothing outlives its parent: the template dies with the server (PR_SET_PDEATHSIG, checked
once set, and end of file on its socket), each child with the template (set again after the
drop to the sandbox uid, which clears it, then checked on the lifeline pipe), and a child's
PID namespace with the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import traceback

from runner.engine import child, sandbox, watch

MAX_REQUEST_BYTES = 64 * 1024
MAX_DESCRIPTORS = 16
REPLY_TIMEOUT_S = 60.0


class TemplateDied(RuntimeError):
    """The template stopped answering: the server can fork no more sandboxes and must go."""


class Template:
    """The server's handle on its template process (its only child between jobs)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                _serve(theirs, server_pid)
            except BaseException:  # noqa: BLE001 - reported on stderr; the server sees EOF
                with contextlib.suppress(Exception):
                    traceback.print_exc()
            finally:
                os._exit(0)
        theirs.close()
        self.pid = pid
        self.sock = ours
        # A fork or a reap of a killed child takes milliseconds; a template that has not
        # answered in this long is stuck, and the server gives up on it (and exits).
        self.sock.settimeout(REPLY_TIMEOUT_S)

    def fork_child(self, *, setup: dict, fallback_dir: str, fds: dict[str, int]) -> int:
        """A new sandboxed child, waiting for its cells on ``fds["job_r"]``; its pid."""
        names = sorted(fds)
        request = {"t": "fork", "setup": setup, "fallback_dir": fallback_dir, "fds": names}
        return int(self._call(request, [fds[name] for name in names])["pid"])

    def reap(self, pid: int) -> dict:
        """Wait for the (killed or exited) child; {"code", "cpu_s", "swept"}."""
        return self._call({"t": "reap", "pid": pid})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def _call(self, request: dict, fds: list[int] = ()) -> dict:
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
            reply = self.sock.recv(MAX_REQUEST_BYTES)
        except OSError as exc:
            raise TemplateDied(f"the template is gone: {exc}") from exc
        if not reply:
            raise TemplateDied("the template is gone")
        return json.loads(reply)


# --- the template process -----------------------------------------------------------------------


def _serve(sock: socket.socket, server_pid: int) -> None:
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid:
        return  # the server died before we could ask to die with it
    # The server's protocol pipes (its jobs and results) are closed here: never read, never held.
    child.close_all_but({sock.fileno(), 2})
    sandbox.prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only the template holds the write end: a child reads end of file on it once we are gone.
    lifeline_r, _lifeline_w = os.pipe()
    checkpoints: set[int] = set()  # try-it checkpoints (runner.engine.checkpoint), alive until reaped
    reaped: dict[int, tuple] = {}  # checkpoints found dead by a sweep, until their reap request
    try:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST_BYTES, MAX_DESCRIPTORS)
            except OSError:
                break
            if not data:
                break  # the server has gone
            request = json.loads(data)
            if request["t"] == "fork":
                try:
                    passed = dict(zip(request["fds"], fds, strict=True))
                    reply = {"pid": _fork(request, {**passed, "lifeline_r": lifeline_r})}
                    if request["setup"].get("checkpoint"):
                        checkpoints.add(reply["pid"])  # lives on between jobs: never swept
                finally:
                    for fd in fds:
                        os.close(fd)
            elif request["t"] == "reap":
                pid = request["pid"]
                checkpoints.discard(pid)
                status, usage = reaped.pop(pid, None) or os.wait4(pid, 0)[1:]
                reply = {
                    "code": os.waitstatus_to_exitcode(status),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                    "swept": watch.sweep_orphans(checkpoints, reaped),
                }
            else:
                raise ValueError(f"unknown request {request['t']!r}")
            sock.send(json.dumps(reply).encode())
    finally:
        watch.sweep_orphans()  # nothing of ours outlives the server


def _fork(request: dict, fds: dict[str, int]) -> int:
    facts = {"namespaces": {"pid": child.fresh_pid_namespace_for_children()}}
    pid = os.fork()
    if pid == 0:
        try:
            child.cell_runner(request["setup"], fds=fds, facts=facts, fallback_dir=request["fallback_dir"])
        except BaseException:  # noqa: BLE001 - reported on stderr, then a plain crash
            with contextlib.suppress(Exception):
                traceback.print_exc()
        finally:
            os._exit(70)
    return pid
