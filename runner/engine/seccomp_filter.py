"""A seccomp filter for the cell runner: system calls no cell needs fail with EPERM.

Built with libseccomp (Debian's libseccomp2, through ctypes: no compiler, no extra package),
which also checks the architecture and resolves names to this kernel's numbers. Everything
not listed stays allowed, so NumPy, torch (its thread pools too) and matplotlib work as usual.
The filter is inherited by every process and thread a cell starts and cannot be removed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools

# Debugging and reading other processes, the mount table and namespaces, the kernel's keyring,
# BPF and perf, modules, rebooting and swap, kernel time, raw I/O ports, io_uring (its own way
# around this filter), handles that bypass path lookup.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick",
    "unshare", "setns",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "syslog", "vhangup", "iopl", "ioperm", "uselib", "lookup_dcookie", "nfsservctl",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_by_handle_at", "name_to_handle_at",
)  # fmt: skip
# clone() may not make new namespaces (a user namespace above all: it would hand the cell
# every capability inside it). clone3 passes its flags in memory a filter cannot read: it
# answers ENOSYS, and the C library falls back to clone() for threads and processes.
CLONE_NAMESPACE_FLAGS = {
    "user": 0x10000000,
    "mount": 0x00020000,
    "pid": 0x20000000,
    "net": 0x40000000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "cgroup": 0x02000000,
}

# socket() and socketpair() only for the families cells use (AF_VSOCK, 40, is not
# network-namespaced and reached the hypervisor). AF_UNIX: multiprocessing, DataLoader
# workers, socketpair(); AF_INET and AF_INET6: loopback inside the cell's own network
# namespace (a local server in a tutorial, torch.distributed on 127.0.0.1); AF_NETLINK: the C
# library asks it for the interfaces (getaddrinfo with AI_ADDRCONFIG, if_nameindex), and it
# only sees that empty namespace. Every other family (packet, vsock, bluetooth, alg, xdp, ...)
# fails with EPERM. The family is an int: any value with high bits set is refused as well.
SOCKET_FAMILIES_ALLOWED = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"}
SOCKET_FAMILY_CEILING = 64  # above every AF_* Linux defines (AF_MAX is 46 in 6.x)

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_CMP_EQ = 4
SCMP_CMP_GE = 5
SCMP_CMP_MASKED_EQ = 7


def SCMP_ACT_ERRNO(code: int) -> int:  # noqa: N802 - libseccomp's macro name
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


@functools.cache
def _library() -> ctypes.CDLL:
    """Loaded once in the fork server (find_library would start a program in every child)."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    return lib


def available() -> bool:
    """Can a filter be built here (libseccomp present)? Loading it may still be refused."""
    try:
        _library()
        return True
    except OSError:
        return False


# A try-it checkpoint forks each reader into namespaces of its own and mounts its scratch
# (runner.engine.checkpoint_child): its filter lets these through, unshare() only with exactly
# the readers' flags; each reader stacks the full filter. Netlink is refused in a checkpoint:
# a user namespace's capabilities would otherwise reach nf_tables and the like.
CHECKPOINT_ALLOWED = ("unshare", "mount")
CHECKPOINT_UNSHARE_FLAGS = 0x10000000 | 0x00020000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000
SCMP_CMP_NE = 1
AF_NETLINK = 16


def install(*, checkpoint: bool = False) -> dict:
    """Load the filter on this process (all its threads); facts for the provenance.

    Never raises: without libseccomp, or when the kernel refuses, the run goes on unfiltered
    and ``{"seccomp": False, "seccomp_error": ...}`` says why.
    """
    try:
        lib = _library()
    except OSError as exc:
        return {"seccomp": False, "seccomp_error": f"libseccomp not found: {exc}"}
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return {"seccomp": False, "seccomp_error": "seccomp_init failed"}
    try:
        denied = []
        lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)
        eperm = SCMP_ACT_ERRNO(errno.EPERM)
        for name in DENIED:
            if checkpoint and name in CHECKPOINT_ALLOWED:
                continue
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a system call on this architecture
            if lib.seccomp_rule_add_array(ctx, eperm, number, 0, None) == 0:
                denied.append(name)
        clone = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in CLONE_NAMESPACE_FLAGS.values():
            rule = (_ArgCmp * 1)(_ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
            if lib.seccomp_rule_add_array(ctx, eperm, clone, 1, rule) != 0:
                return {"seccomp": False, "seccomp_error": "could not add the clone() rule"}
        if checkpoint:
            unshare = lib.seccomp_syscall_resolve_name(b"unshare")
            rule = (_ArgCmp * 1)(_ArgCmp(0, SCMP_CMP_NE, CHECKPOINT_UNSHARE_FLAGS, 0))
            if lib.seccomp_rule_add_array(ctx, eperm, unshare, 1, rule) != 0:
                return {"seccomp": False, "seccomp_error": "could not add the unshare() rule"}
        allowed = {k: v for k, v in SOCKET_FAMILIES_ALLOWED.items() if not (checkpoint and k == AF_NETLINK)}
        if not _restrict_socket_families(lib, ctx, eperm, allowed):
            return {"seccomp": False, "seccomp_error": "could not add the socket family rules"}
        clone3 = lib.seccomp_syscall_resolve_name(b"clone3")
        if clone3 >= 0:
            lib.seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(errno.ENOSYS), clone3, 0, None)
        code = lib.seccomp_load(ctx)
        if code != 0:
            return {"seccomp": False, "seccomp_error": f"seccomp_load: {errno.errorcode.get(-code, code)}"}
        return {"seccomp": True, "seccomp_denied": len(denied)}
    finally:
        lib.seccomp_release(ctx)


def _restrict_socket_families(lib, ctx, eperm: int, allowed: dict[int, str]) -> bool:
    """EPERM for socket(family, ...) and socketpair(family, ...) but the allowed families."""
    refused = [n for n in range(SOCKET_FAMILY_CEILING) if n not in allowed]
    for name in (b"socket", b"socketpair"):
        number = lib.seccomp_syscall_resolve_name(name)
        if number < 0:
            continue
        rules = [_ArgCmp(0, SCMP_CMP_EQ, family, 0) for family in refused]
        rules.append(_ArgCmp(0, SCMP_CMP_GE, SOCKET_FAMILY_CEILING, 0))
        for rule in rules:
            if lib.seccomp_rule_add_array(ctx, eperm, number, 1, (_ArgCmp * 1)(rule)) != 0:
                return False
    return True
