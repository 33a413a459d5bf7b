"""Inside the sandbox: a checkpoint that has run an answer's published cells and forks one fresh,
re-isolated child per reader run (copy-on-write: the prefix's state, not its cost).

    checkpoint C (a verification-grade sandbox: fresh root, namespaces, seccomp, sandbox uid;
    |             it ran the published cells, then waits on its control socket)
    `- R    forked per reader: a new user, mount, PID, network, IPC and UTS namespace
       `- R1  PID 1 of that PID namespace: fresh /tmp and /dev/shm (the checkpoint's working
              files copied in), a fresh /proc, no capabilities, the full seccomp filter; it
              reads the reader's cell from its own pipe and runs it with the prefix's state

What a reader's run can reach is what the checkpoint holds (the published cells' state, which
every reader sees on the page anyway) and its own files: another reader's files, processes,
sockets and memory live in namespaces of their own. The reader's code never passes through
the checkpoint: the server sends it only descriptors, and R1 reads its cell from a pipe.
Trade-off: the checkpoint's seccomp filter lets ``unshare`` and ``mount`` through (R and R1
need them before R1 stacks the full filter); the published cells run under it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import stat
import sys

from runner.engine import cellexec, sandbox, seccomp_filter
from runner.engine.protocol import read_frame, write_frame

CLONE_NEWUSER = 0x10000000
READER_NAMESPACES = (
    CLONE_NEWUSER
    | sandbox.CLONE_NEWNS
    | sandbox.CLONE_NEWPID
    | sandbox.CLONE_NEWNET
    | sandbox.CLONE_NEWIPC
    | sandbox.CLONE_NEWUTS
)
assert READER_NAMESPACES == seccomp_filter.CHECKPOINT_UNSHARE_FLAGS  # the only unshare() let through
SHM_BYTES = 4 * 1024**2  # /dev/shm: semaphores and small buffers (its space is RAM, like /tmp's)
READER_FDS = ("out_w", "err_w", "result_w", "ack_r", "job_r", "exit_w", "pid_sock")
MAX_REQUEST_BYTES = 4096
EXIT_SETUP_FAILED = 71


def serve_readers(*, control_fd: int, limits, has_cuda: bool, session) -> None:
    """The checkpoint after its prefix: fork a reader child per request, until end of file."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        os.dup2(devnull, fd)  # the prefix's pipes to the server are done with
    for fd in (3, 4):
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # R's are reaped by the kernel
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, MAX_REQUEST_BYTES, len(READER_FDS))
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)  # the server dropped this checkpoint
        names = json.loads(data).get("fds", [])
        passed = dict(zip(names, fds, strict=False))
        reply = {"ok": sorted(passed) == sorted(READER_FDS)}
        if reply["ok"]:
            try:
                pid = os.fork()
            except OSError as exc:  # out of processes (RLIMIT_NPROC is the sandbox uid's): for now
                reply = {"ok": False, "error": f"fork: {exc.strerror}"}
            else:
                if pid == 0:
                    try:
                        control.close()
                        _reader(passed, limits=limits, has_cuda=has_cuda, session=session)
                    finally:
                        os._exit(70)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps(reply).encode())


def _reader(fds: dict[str, int], *, limits, has_cuda: bool, session) -> None:
    """R: new namespaces (a user namespace mapping only our own uid), then R1 as their PID 1."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    uid, gid = os.getuid(), os.getgid()
    if sandbox._libc.unshare(READER_NAMESPACES) != 0:
        _exit_report(fds["exit_w"], EXIT_SETUP_FAILED, f"unshare: {os.strerror(ctypes.get_errno())}")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(text)
    pid = os.fork()
    if pid == 0:
        try:
            _reader_init(fds, limits=limits, has_cuda=has_cuda, session=session)
        except BaseException as exc:  # noqa: BLE001 - a set-up failure is a crash the server sees
            with contextlib.suppress(Exception):
                os.write(2, f"reader set-up failed: {exc!r}\n".encode())
        finally:
            os._exit(EXIT_SETUP_FAILED)
    for name in READER_FDS:
        if name != "exit_w":
            os.close(fds[name])
    _, status, usage = os.wait4(pid, 0)
    _exit_report(fds["exit_w"], os.waitstatus_to_exitcode(status), "", cpu_s=usage.ru_utime + usage.ru_stime)


def _exit_report(fd: int, code: int, error: str, cpu_s: float = 0.0) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps({"code": code, "cpu_s": cpu_s, "error": error}).encode())
    os._exit(0)


def _reader_init(fds: dict[str, int], *, limits, has_cuda: bool, session) -> None:
    """R1, PID 1 of the reader's PID namespace: make its own scratch, drop everything, run.
    The server checks from outside what R1 says of itself before it sends the reader's cell."""
    os.setsid()
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    os.close(fds["exit_w"])
    pid_sock = socket.socket(fileno=fds["pid_sock"])
    try:
        _fresh_scratch(limits)
        masked = sandbox.mount_proc("/proc")  # this PID namespace only: R1 and what it starts
        _drop_capabilities()
        filtered = seccomp_filter.install()  # the full filter, stacked on the checkpoint's
        if not filtered.get("seccomp"):
            raise OSError(f"the reader's seccomp filter was refused: {filtered.get('seccomp_error')}")
    except Exception as exc:  # noqa: BLE001 - said to the server, which falls back
        with contextlib.suppress(OSError):
            pid_sock.send(f"error: {exc!r}"[:1000].encode())
        os._exit(EXIT_SETUP_FAILED)
    # The copy-on-write faults a first cell would take, taken now (a spare reader waits for its
    # job; this is off the run's path): see cellexec.warm_up.
    cellexec.warm_up(limits)
    # The server cannot name R1 by number (it sits two PID namespaces down): a pidfd says it.
    pidfd = os.pidfd_open(os.getpid())
    socket.send_fds(pid_sock, [b"pid"], [pidfd])
    os.close(pidfd)
    pid_sock.close()  # end of file: the server now checks R1's descriptors, capabilities, filters
    handed = read_frame(fds["job_r"])
    if handed is None:
        os._exit(0)
    result_fd, ack_fd, lifeline_fd = sandbox.move_fds(
        stdout_fd=fds["out_w"],
        stderr_fd=fds["err_w"],
        result_fd=fds["result_w"],
        ack_fd=fds["ack_r"],
        lifeline_fd=fds["job_r"],  # nothing more comes on it: held only to keep fd 5 taken
    )
    os.close(lifeline_fd)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        stream.reconfigure(write_through=True)
        setattr(sys, name, stream)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu = max(1, int(handed["cpu_s"] + 0.999))
    cpu = cpu if hard == resource.RLIM_INFINITY else min(cpu, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    os.chdir(sandbox.WORKDIR)
    facts = {
        "checkpoint_reader": True,
        "reader_namespaces": ["user", "mount", "pid", "net", "ipc", "uts"],
        "reader_proc_masked": len(masked),
        "reader_seccomp": True,
        "uid": os.getuid(),
    }
    write_frame(result_fd, {"t": "ready", "facts": facts})
    cellexec.run_cells(
        cells=handed["cells"],
        result_fd=result_fd,
        ack_fd=ack_fd,
        limits=limits,
        has_cuda=has_cuda,
        session=session,
    )
    os._exit(0)


def _fresh_scratch(limits) -> None:
    """A /tmp and /dev/shm of this reader's own; the checkpoint's working files copied in."""
    old = os.open(sandbox.WORKDIR, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sandbox._mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE, None)
        flags = sandbox.MS_NOSUID | sandbox.MS_NODEV
        tmp = f"size={limits.tmp_bytes},nr_inodes={limits.tmp_inodes},mode=1777"
        sandbox._mount("tmpfs", "/tmp", "tmpfs", flags, tmp)
        if os.path.isdir("/dev/shm"):
            sandbox._mount("tmpfs", "/dev/shm", "tmpfs", flags, f"size={SHM_BYTES},nr_inodes=256,mode=1777")
        os.mkdir(sandbox.WORKDIR, 0o700)
        os.fchdir(old)
        # Regular files, folders and links only: a FIFO or a socket left there would block the copy.
        shutil.copytree(".", sandbox.WORKDIR, symlinks=True, dirs_exist_ok=True, ignore=_not_plain)
    finally:
        os.close(old)  # nothing of the checkpoint's /tmp stays reachable
    os.chdir(sandbox.WORKDIR)


def _not_plain(folder: str, names: list[str]) -> set[str]:
    skipped = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            skipped.add(name)
    return skipped


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_capabilities() -> None:
    """The user namespace gave R1 every capability inside it: keep none (and no way back)."""
    sandbox.prctl(sandbox.PR_SET_NO_NEW_PRIVS, 1)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if sandbox._libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    sandbox.prctl(sandbox.PR_SET_DUMPABLE, 1)  # /proc/self stays readable (peak memory)
