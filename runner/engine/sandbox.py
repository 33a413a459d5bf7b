"""Putting a forked child into its sandbox: namespaces, mounts, limits, an unprivileged user.

The fresh root is built in ``runner.engine.rootfs`` and the seccomp filter in
``runner.engine.seccomp_filter``; the private-mount helpers below (private /tmp, hidden paths,
the interpreter exposed) are the fallback where the kernel refuses a fresh root.

Everything here runs in a child of the fork server, never in the server itself. Each step is
taken where the kernel allows it and recorded in ``facts``, so a run's provenance says what
isolation it really had (shared/DESIGN.md: "where a namespace is unavailable, the run still
works and its provenance says so").

Process layout for one answer (see ``runner.engine.supervisor``)::

    fork server (a subreaper; it set up a fresh PID namespace for its next child)
      `- cell runner: PID 1 of that namespace, own session, new net/mount/ipc/uts namespaces,
         a fresh root, a seccomp filter; runs the cells as the worker's sandbox uid

Killing the cell runner tears down its whole PID namespace; the server also kills its process
group, and orphans that escaped the group are reparented to the server and swept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import stat
import sys

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = {
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
}

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38

NOBODY_UID = 65534
WORKDIR = "/tmp/work"
# World-writable places a cell could otherwise leave files in for the next run to find.
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    encode = lambda s: s.encode() if s is not None else None  # noqa: E731
    if _libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)):
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def unshare_namespaces(exclude: tuple[str, ...] = ()) -> dict[str, bool]:
    """Enter new namespaces, each one separately, and say which ones the kernel granted."""
    granted = {}
    for name, flag in NAMESPACES.items():
        if name not in exclude:
            granted[name] = _libc.unshare(flag) == 0
    return granted


def make_private_mounts(*, tmp_bytes: int, tmp_inodes: int, uid: int, hidden_paths: list[str]) -> dict:
    """In a new mount namespace: fresh tmpfs /tmp (with the work dir) and hidden paths.

    The tmpfs vanishes with the namespace, so nothing a cell writes there reaches the next
    run, and its size and inode count bound a cell that writes a huge file or 100,000 files.
    """
    facts: dict = {"private_tmp": False, "hidden": []}
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    options = f"size={tmp_bytes},nr_inodes={tmp_inodes},mode=1777"
    # The interpreter, the virtual environment or the project may live under /tmp (a CI
    # checkout, say): keep those trees, and only those, visible through the fresh tmpfs.
    kept = _stage_trees_under_tmp()
    for path in PRIVATE_TMPFS:
        if os.path.isdir(path) and path != "/dev/shm":
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)
    _restore_staged(kept)
    if os.path.isdir("/dev/shm"):  # last: it also covers the (now empty) staging area
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options)
    facts["kept_from_tmp"] = [path for _, path in kept]
    os.mkdir(WORKDIR, 0o700)
    os.chown(WORKDIR, uid, uid)
    facts["private_tmp"] = True
    facts["exposed"] = expose_interpreter()
    for path in hidden_paths:
        try:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=555")
            elif os.path.exists(path):
                _mount("/dev/null", path, None, MS_BIND, None)
            else:
                continue
            facts["hidden"].append(path)
        except OSError:
            facts.setdefault("hide_failed", []).append(path)
    return facts


def _needed_trees() -> set[str]:
    """Directories the cell's Python needs: its prefixes and every sys.path entry."""
    return {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, *sys.path) if p and os.path.isdir(p)}


def _outermost(paths) -> list[str]:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths)]


def _stage_trees_under_tmp() -> list[tuple[str, str]]:
    """Bind the needed trees found under a private-tmpfs path to stages outside it.

    The stages live in a scratch tmpfs on /dev/shm (itself replaced right after), so nothing
    of the machine's /tmp but those trees is carried over.
    """
    covered = [p for p in PRIVATE_TMPFS if p != "/dev/shm"]
    trees = _outermost(p for p in _needed_trees() if any(p == c or p.startswith(c + "/") for c in covered))
    if not trees:
        return []
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=700")
    staged = []
    for number, path in enumerate(trees):
        stage = f"/dev/shm/.keep-{number}"
        os.mkdir(stage, 0o700)
        _mount(path, stage, None, MS_BIND | MS_REC, None)
        staged.append((stage, path))
    return staged


def _restore_staged(staged: list[tuple[str, str]]) -> None:
    for stage, path in staged:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(stage, path, None, MS_MOVE, None)


def _first_closed_ancestor(path: str) -> str | None:
    """The highest directory on ``path`` that other users cannot enter, if any."""
    current = "/"
    for part in path.strip("/").split("/"):
        current = os.path.join(current, part)
        mode = os.stat(current).st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return current
    return None


def expose_interpreter() -> list[str]:
    """Let the unprivileged cell user read the interpreter and its libraries.

    On a machine where Python lives under a private directory (pyenv in /root, mode 0700),
    `nobody` could not import the standard library. In the private mount namespace each
    closed ancestor is covered with an empty tmpfs and only the needed trees are bind-mounted
    back into it: the rest of that directory stays invisible to the cell.
    """
    needed = _needed_trees()
    blocked = {path: _first_closed_ancestor(path) for path in sorted(needed)}
    blocked = {path: top for path, top in blocked.items() if top}
    # Keep only the outermost needed trees; their subtrees come along with them.
    roots = [p for p in blocked if not any(p != q and p.startswith(q + "/") for q in blocked)]
    staged = []
    for number, path in enumerate(roots):
        stage = f"/tmp/.expose-{number}"
        os.mkdir(stage, 0o700)
        _mount(path, stage, None, MS_BIND | MS_REC, None)
        staged.append((stage, path))
    for top in sorted({blocked[path] for path in roots}):
        _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    for stage, path in staged:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(stage, path, None, MS_MOVE, None)
        os.rmdir(stage)
    return roots


def interpreter_private() -> bool:
    """Would an unprivileged user be unable to read the interpreter (without expose_interpreter)?"""
    return any(_first_closed_ancestor(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix))


# What a cell has no use for in /proc, hidden the way container runtimes do: the
# kernel's symbols, its build configuration, its log, hardware and scheduler internals.
PROC_MASKED_FILES = (
    "kallsyms", "config.gz", "kmsg", "kcore", "keys", "key-users", "timer_list", "sched_debug",
    "latency_stats", "modules", "vmallocinfo", "iomem", "ioports", "slabinfo", "kpagecount",
    "kpageflags", "kpagecgroup", "sysrq-trigger", "pagetypeinfo", "zoneinfo", "softirqs",
    "interrupts", "execdomains", "partitions", "diskstats", "locks",
)  # fmt: skip
# Not /proc/driver nor /proc/devices: the CUDA driver reads them in a GPU worker's cells.
PROC_MASKED_DIRS = ("acpi", "asound", "scsi", "bus", "irq", "fs", "tty", "sysvipc", "dynamic_debug")


def mount_proc(target: str = "/proc", *, options: str | None = None) -> list[str]:
    """A /proc showing only this PID namespace (no host process's environ to read), with what
    cells need none of masked: /dev/null over files, an empty read-only tmpfs over folders."""
    _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
    masked = []
    for name in PROC_MASKED_FILES:
        path = f"{target}/{name}"
        if os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND, None)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, None)
            masked.append(name)
    for name in PROC_MASKED_DIRS:
        path = f"{target}/{name}"
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
            masked.append(name)
    # Read-only, as in a container: a cell as root (the development fallback) changes nothing.
    if os.path.isdir(f"{target}/sys"):
        _mount(f"{target}/sys", f"{target}/sys", None, MS_BIND | MS_REC, None)
        _mount(None, f"{target}/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    return masked


def move_fds(
    *,
    stdout_fd: int,
    stderr_fd: int,
    result_fd: int,
    ack_fd: int,
    lifeline_fd: int,
    extra_fd: int | None = None,
) -> tuple[int, int, int]:
    """stdin from /dev/null (EOF at once), stdout/stderr to the pipes; close everything else.

    Returns the result pipe's, the acknowledgement pipe's and the lifeline's new descriptors
    (3, 4 and 5); ``extra_fd`` (a checkpoint's control socket) is kept as 6.
    """
    kept = (stdout_fd, stderr_fd, result_fd, ack_fd, lifeline_fd) + (() if extra_fd is None else (extra_fd,))
    high = [os.dup(fd) for fd in kept]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for target, fd in enumerate(high, start=1):
        os.dup2(fd, target)
    os.closerange(len(kept) + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    return 3, 4, 5


def build_env(*, home: str, tmpdir: str, threads: int, extra: dict[str, str]) -> dict[str, str]:
    """The child's whole environment, from an allow-list: nothing of the worker's leaks in."""
    env = {
        "PATH": SAFE_PATH,
        "HOME": home,
        "TMPDIR": tmpdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": tmpdir,
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = str(threads)
    env.update(extra)
    return env


def apply_rlimits(*, limits, data_baseline: int, cpu_s: float) -> dict:
    """Kernel limits on the cell runner and everything it starts.

    Memory: RLIMIT_AS would count the address space torch reserves (and break it), so the
    backstop is RLIMIT_DATA (private writable memory, Linux >= 4.7) on top of what the
    preloaded server already had; the supervisor also polls the real RSS.
    """
    applied = {}

    def set_limit(name: str, value: int) -> None:
        kind = getattr(resource, name)
        try:
            resource.setrlimit(kind, (value, value))
            applied[name] = value
        except (ValueError, OSError):
            applied[name] = None

    set_limit("RLIMIT_CORE", 0)
    set_limit("RLIMIT_CPU", max(1, int(cpu_s + 0.999)))
    set_limit("RLIMIT_DATA", data_baseline + limits.memory_bytes)
    set_limit("RLIMIT_FSIZE", limits.file_bytes)
    set_limit("RLIMIT_NOFILE", limits.open_files)
    set_limit("RLIMIT_NPROC", limits.processes)
    return applied


def drop_privileges(uid: int) -> bool:
    """Become ``uid`` with no groups and no way back up (setuid binaries lose their power)."""
    dropped = False
    if os.getuid() == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            dropped = True
        except OSError:
            dropped = False
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Changing uid makes the process non-dumpable, which hides its own /proc/self from it;
    # the runner reads its peak memory there.
    prctl(PR_SET_DUMPABLE, 1)
    return dropped


def ignore_file_size_signal() -> None:
    """A write past RLIMIT_FSIZE fails with EFBIG (an error the cell sees), not a kill."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def data_size() -> int:
    """This process's private writable memory (VmData), the base for RLIMIT_DATA."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0
