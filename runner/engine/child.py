"""The forked child: it puts itself in the sandbox, waits for its cells, then runs them.

Order matters: namespaces, then the fresh root (or, where the kernel refuses one, the host's
tree with a private /tmp), then the seccomp filter, all before the job arrives (the standby
child does this while the server is idle); then descriptors, environment, limits and the drop
to the sandbox user once the cells are handed over.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import tempfile

from runner.engine import cellexec, checkpoint_child, datafiles, rootfs, sandbox, seccomp_filter
from runner.engine.protocol import Limits, read_frame, write_frame


def cpu_share(limits: Limits) -> int:
    return max(1, limits.threads or 1)


def cell_runner(job: dict, *, fds: dict, facts: dict, fallback_dir: str) -> None:
    """The forked child (PID 1 of a new PID namespace when granted): sandbox itself, run cells.

    ``job`` is the standby template (limits, uid, hidden paths, env): the cells and the CPU
    budget arrive on ``fds["job_r"]`` once the namespaces and mounts are ready, so that this
    set-up happens while the server is idle, not while an answer waits.
    """
    os.setsid()  # own session and process group: the server kills the group at the end
    limits = Limits(**job["limits"])
    close_all_but(set(fds.values()) | {2})  # the lifeline's write end among them
    die_with_parent(fds["lifeline_r"])
    facts["namespaces"].update(sandbox.unshare_namespaces(exclude=("pid",)))
    facts.update(make_filesystem(job, limits, facts))
    cellexec.warm_up(limits)
    session = cellexec.Session(limits)  # seeded, hooks in place: off the answer's path
    checkpoint = bool(job.get("checkpoint"))  # a try-it checkpoint: it forks readers after its cells
    facts.update(seccomp_filter.install(checkpoint=checkpoint))
    facts["layers"] = layers_of(facts)
    handed = read_frame(fds["job_r"])
    if handed is None:
        os._exit(0)  # the server discarded this standby child
    job = {**job, **handed}
    result_fd, ack_fd, lifeline_fd = sandbox.move_fds(
        stdout_fd=fds["out_w"],
        stderr_fd=fds["err_w"],
        result_fd=fds["result_w"],
        ack_fd=fds["ack_r"],
        lifeline_fd=fds["lifeline_r"],
        extra_fd=fds["control"] if checkpoint else None,
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
    facts.update(datafiles.install(job.get("files") or [], workdir))
    sandbox.ignore_file_size_signal()
    facts["rlimits"] = sandbox.apply_rlimits(
        limits=limits, data_baseline=sandbox.data_size(), cpu_s=job["cpu_s"]
    )
    if facts.get("fresh_root") or "exposed" in facts or not sandbox.interpreter_private():
        facts["uid"] = job["uid"] if sandbox.drop_privileges(job["uid"]) else os.getuid()
    else:
        # Without a private mount namespace the sandbox user could not even import the
        # standard library here: the run goes on, as root, and its provenance says so.
        facts["uid"] = os.getuid()
    facts["layers"]["unprivileged user"] = facts["uid"] != 0
    # The uid change cleared the parent-death signal (a cell outlived its killed
    # fork server, unsupervised): set it again, then make sure the parent is still there.
    die_with_parent(lifeline_fd)
    os.close(lifeline_fd)
    facts["threads"] = threads
    import torch

    torch.set_num_threads(threads)
    write_frame(result_fd, {"t": "ready", "facts": facts})
    cellexec.run_cells(
        cells=job["cells"],
        result_fd=result_fd,
        ack_fd=ack_fd,
        limits=limits,
        has_cuda=job["has_cuda"],
        session=session,
    )
    if checkpoint:
        checkpoint_child.serve_readers(control_fd=6, limits=limits, has_cuda=job["has_cuda"], session=session)
    os._exit(0)


def die_with_parent(lifeline_fd: int) -> None:
    """SIGKILL when the template (our parent) dies; exit now if it already has.

    The lifeline is a pipe only the template holds open for writing: end of file on it means
    the template is gone (getppid() cannot tell: PID 1 of a new namespace sees its parent as 0).
    """
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    poller = select.poll()
    poller.register(lifeline_fd, select.POLLIN)
    if poller.poll(0):
        os._exit(1)  # the template died before we could ask to die with it


def make_filesystem(job: dict, limits: Limits, facts: dict) -> dict:
    """The fresh root where the kernel allows it; else the host's tree with a private /tmp."""
    found: dict = {"fresh_root": False}
    if not facts["namespaces"]["mount"]:
        return found
    try:
        found.update(
            rootfs.build_fresh_root(
                tmp_bytes=limits.tmp_bytes,
                tmp_inodes=limits.tmp_inodes,
                uid=job["uid"],
                pid_namespace=facts["namespaces"]["pid"],
                has_cuda=job["has_cuda"],
                data_dirs=job.get("data_dirs", ()),
                hidden_proc=bool(job.get("checkpoint")),
            )
        )
        return found
    except OSError as exc:
        found["fresh_root_error"] = str(exc)
    try:
        found.update(
            sandbox.make_private_mounts(
                tmp_bytes=limits.tmp_bytes,
                tmp_inodes=limits.tmp_inodes,
                uid=job["uid"],
                hidden_paths=job["hidden_paths"],
            )
        )
        if facts["namespaces"]["pid"]:
            sandbox.mount_proc()
            found["private_proc"] = True
    except OSError as exc:
        found["mount_error"] = str(exc)
    return found


def layers_of(facts: dict) -> dict[str, bool]:
    """Which isolation layers this child really got, by name (for the provenance)."""
    namespaces = facts["namespaces"]
    return {
        "fresh root": bool(facts.get("fresh_root")),
        "private /tmp": bool(facts.get("private_tmp")) and "mount_error" not in facts,
        "private /proc": bool(facts.get("private_proc")),
        "seccomp": bool(facts.get("seccomp")),
        **{f"{name} namespace": bool(on) for name, on in namespaces.items()},
    }


_own_pid_namespace: int | None = None


def fresh_pid_namespace_for_children() -> bool:
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


def close_all_but(keep: set[int]) -> None:
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
