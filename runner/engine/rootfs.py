"""A fresh root for the cell runner, built from an allow-list: nothing of the host by default.

In the child's private mount namespace a new, empty tmpfs becomes ``/`` (pivot_root) and only
what the cells' Python needs is bound into it, read-only:

    /usr, /lib*, /bin, /sbin      the system's programs and shared libraries
    the interpreter's prefixes    the Python installation and the virtual environment
    /etc                          synthetic: passwd, group, hosts, nsswitch.conf (+ ld.so.cache)
    /dev                          null, zero, full, random, urandom (+ the GPU's nodes on CUDA)
    /proc                         a private instance (only this PID namespace, when granted)
    /tmp, /dev/shm                private and writable, one size-limited tmpfs for both

The project checkout, the host's /tmp, /run (PostgreSQL's and every other path-bound Unix
socket), /home, /var and the rest of /etc are simply not there. The old root is detached, so
no path leads back to it. Sockets bound to abstract names are covered by the network
namespace, not by this module.
"""

from __future__ import annotations

import os
import sys

from runner.engine.sandbox import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    WORKDIR,
    _libc,
    _mount,
    mount_proc,
)

MS_REMOUNT = 32
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64 and the generic table (aarch64: 41) differ; see _pivot_root_number
SYSTEM_TREES = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
# Read by the C library when a cell starts a program (library paths) or asks for local time.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Where the empty tmpfs that becomes the new root is first mounted: any existing directory
# that holds nothing the new root needs (the mount hides it, in this namespace only).
STAGING_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/boot", "/home", "/run", "/var/tmp", "/tmp")
SCRATCH = "/.scratch"


def _pivot_root_number() -> int:
    machine = os.uname().machine
    return {"x86_64": 155, "aarch64": 41, "riscv64": 41}.get(machine, SYS_PIVOT_ROOT)


def interpreter_trees() -> list[str]:
    """The Python installation and the virtual environment (real paths, outermost only).

    sys.path entries outside these (the project checkout on PYTHONPATH, above all) are left
    out on purpose: the fork server imported what the child runs before it forked.
    """
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix) if p}
    return _outermost(p for p in prefixes if os.path.isdir(p))


def interpreter_paths() -> list[str]:
    """The paths, as the interpreter spells them, that must resolve in the new root."""
    paths = [sys.base_prefix, sys.prefix, sys.executable]
    roots = interpreter_trees()
    for entry in sys.path:
        if entry and any(_within(os.path.realpath(entry), root) for root in roots):
            paths.append(entry)
    return [p for p in paths if p]


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _outermost(paths) -> list[str]:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p != q and _within(p, q) for q in paths)]


def _staging_point(needed: list[str]) -> str:
    for candidate in STAGING_CANDIDATES:
        usable = os.path.isdir(candidate) and not os.path.islink(candidate)
        if usable and not any(_within(path, candidate) or _within(candidate, path) for path in needed):
            return candidate
    raise OSError(f"no directory to build the new root in (tried {', '.join(STAGING_CANDIDATES)})")


def _bind(source: str, target: str, *, read_only: bool = True, flags: int = MS_NOSUID | MS_NODEV) -> None:
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(source, target, None, MS_BIND | MS_REC, None)
    if read_only:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, None)


def _mirror(root: str, path: str, depth: int = 0) -> None:
    """Recreate in ``root`` the symbolic links met on the way to ``path`` on the host, so the
    interpreter's own spelling of a path (a venv behind a symlink, say) works in the new root."""
    if depth > 16:
        return
    current = "/"
    parts = [part for part in path.split("/") if part]
    for number, part in enumerate(parts):
        current = os.path.join(current, part)
        if os.path.islink(current):
            inside = root + current
            if not os.path.lexists(inside):
                os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
                os.symlink(os.readlink(current), inside)
            rest = parts[number + 1 :]
            _mirror(root, os.path.join(os.path.realpath(current), *rest), depth + 1)
            return


def _synthetic_etc(root: str, uid: int) -> None:
    etc = root + "/etc"
    os.makedirs(etc, mode=0o755, exist_ok=True)
    files = {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{uid}:cell runner:/tmp/work:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\nsandbox:x:{uid}:\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }
    for name, text in files.items():
        with open(os.path.join(etc, name), "w") as file:
            file.write(text)
        os.chmod(os.path.join(etc, name), 0o644)
    for path in ETC_FILES:
        if os.path.islink(path):
            _mirror(root, path)
            path = os.path.realpath(path)
            if not os.path.exists(root + path) and os.path.isfile(path):
                _bind(path, root + path)
        elif os.path.isfile(path):
            _bind(path, root + path)


def _devices(root: str, *, has_cuda: bool) -> None:
    dev = root + "/dev"
    os.makedirs(dev, mode=0o755, exist_ok=True)
    names = list(DEVICES)
    if has_cuda:
        names += sorted(name for name in os.listdir("/dev") if name.startswith("nvidia"))
    for name in names:
        source = f"/dev/{name}"
        if os.path.exists(source) and not os.path.isdir(source):
            _bind(source, f"{dev}/{name}", flags=MS_NOSUID)  # read-only: writes still reach the device
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")


def _private_scratch(root: str, *, tmp_bytes: int, tmp_inodes: int, uid: int) -> None:
    """One size-limited tmpfs, shown as /tmp and /dev/shm: one budget for everything a cell writes."""
    scratch = root + SCRATCH
    os.mkdir(scratch, 0o700)
    options = f"size={tmp_bytes},nr_inodes={tmp_inodes},mode=755"
    _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for name, target in (("tmp", "/tmp"), ("shm", "/dev/shm")):
        os.mkdir(f"{scratch}/{name}")
        os.chmod(f"{scratch}/{name}", 0o1777)  # noqa: S103 - like any /tmp: sticky, private to the run
        os.makedirs(root + target, mode=0o755, exist_ok=True)
        _mount(f"{scratch}/{name}", root + target, None, MS_BIND, None)
    _libc.umount2(scratch.encode(), MNT_DETACH)
    os.rmdir(scratch)


HIDDEN_PROC = "/.kb-root-only/proc"


def build_fresh_root(
    *,
    tmp_bytes: int,
    tmp_inodes: int,
    uid: int,
    pid_namespace: bool,
    has_cuda: bool,
    data_dirs=(),
    hidden_proc: bool = False,
) -> dict:
    """Make a new root from the allow-list and pivot into it; the old root is detached.

    Raises OSError when the kernel refuses a step; the caller then keeps the host's tree (with
    a private /tmp) and the provenance says so.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    trees = interpreter_trees()
    paths = interpreter_paths()
    root = _staging_point(trees + paths + [os.path.realpath(p) for p in data_dirs])
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    bound = []
    for path in SYSTEM_TREES:
        if os.path.islink(path):
            _mirror(root, path)
        elif os.path.isdir(path):
            _bind(path, root + path, flags=MS_NOSUID)
            bound.append(path)
    _synthetic_etc(root, uid)
    _devices(root, has_cuda=has_cuda)
    _private_scratch(root, tmp_bytes=tmp_bytes, tmp_inodes=tmp_inodes, uid=uid)
    # After /tmp: a checkout under /tmp (CI clones there) has its venv under /tmp, and the
    # private /tmp mounted after it would hide it (figures then failed: matplotlib's fonts were
    # gone). Bound now, its mount points sit in the private /tmp, root-owned and read-only.
    for tree in trees:
        if not any(_within(tree, done) for done in bound):
            _bind(tree, root + tree, flags=MS_NOSUID | MS_NODEV)
            bound.append(tree)
    for path in paths:
        _mirror(root, path)
    # After /tmp: a data directory may live under it (read-only even there).
    for path in data_dirs:  # the operator's choice (RUNNER_SANDBOX_DATA_DIRS): read-only
        if os.path.isdir(path):
            _mirror(root, path)
            _bind(os.path.realpath(path), root + os.path.realpath(path))
            bound.append(os.path.realpath(path))
    os.makedirs(root + "/proc", mode=0o555, exist_ok=True)
    # hidepid: without a PID namespace of its own, the cell sees only its own user's processes.
    masked = mount_proc(root + "/proc", options=None if pid_namespace else "hidepid=2")
    if hidden_proc:
        # A try-it checkpoint's readers mount a /proc of their own from a user namespace; the
        # kernel allows that only where an unmasked proc is already mounted. This one sits in a
        # root-only folder that neither the checkpoint (the sandbox uid) nor a reader can enter.
        os.mkdir(root + os.path.dirname(HIDDEN_PROC), 0o700)
        os.mkdir(root + HIDDEN_PROC, 0o555)
        _mount("proc", root + HIDDEN_PROC, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    os.chdir(root)
    if _libc.syscall(_pivot_root_number(), b".", b".") != 0:
        raise OSError(_errno(), f"pivot_root: {os.strerror(_errno())}")
    # The old root now sits on top of the new one at "/": detach it and everything under it.
    if _libc.umount2(b".", MNT_DETACH) != 0:
        raise OSError(_errno(), f"detaching the old root: {os.strerror(_errno())}")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    os.mkdir(WORKDIR, 0o700)
    os.chown(WORKDIR, uid, uid)
    return {
        "fresh_root": True,
        "private_tmp": True,
        "private_proc": pid_namespace,
        "bound": bound,
        "proc_masked": len(masked),
    }


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()
