"""Can this process isolate cells? Tried for real in a throwaway child, before any job runs.

The one probe of the sandbox's layers: the child takes the cell runner's own steps (new
pid/net/mount/ipc/uts namespaces, the fresh root of ``runner.engine.rootfs``, the seccomp
filter, the unprivileged cell uid) and reports each layer as on or off, with the kernel's
reason for each refusal. The fork server reports it in its hello; a worker refuses to start
in production when a required layer is off (runner/isolation.py). A finished run's facts carry
the same ``layers`` (runner.engine.child.layers_of), so its provenance is judged alike.
"""

from __future__ import annotations

import json
import os

from . import child, rootfs, sandbox, seccomp_filter

# Every layer a production worker must grant a cell (docs/deploy.md, "The sandbox in a container").
REQUIRED_LAYERS = (
    "pid namespace",
    "net namespace",
    "mount namespace",
    "ipc namespace",
    "uts namespace",
    "fresh root",
    "private /tmp",
    "seccomp",
    "unprivileged user",
)
# Without these a cell is not isolated at all: it shares the worker's processes, network,
# mounts or user. The rest of REQUIRED_LAYERS narrow what an isolated cell can see and call.
CORE_LAYERS = REQUIRED_LAYERS[:5] + ("unprivileged user",)
# Runs recorded before the sandbox reported layers: what their facts can still show.
LEGACY_NAMESPACES = ("pid", "net", "mount", "ipc", "uts")


def probe_isolation(uid: int = sandbox.NOBODY_UID) -> dict:
    """``{"layers": {"fresh root": bool, "seccomp": bool, "pid namespace": bool, ...},
    "errors": {layer: the kernel's reason}}`` for a cell run as ``uid`` on this machine."""
    seccomp_filter.available()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(_probe_in_child(uid)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    if not chunks:
        return {"layers": {}, "errors": {"probe": "the probe child died"}}
    return json.loads(b"".join(chunks))


def _probe_in_child(uid: int) -> dict:
    facts: dict = {"namespaces": {"pid": sandbox._libc.unshare(sandbox.CLONE_NEWPID) == 0}}
    facts["namespaces"].update(sandbox.unshare_namespaces(exclude=("pid",)))
    errors = {}
    if facts["namespaces"]["mount"]:
        try:
            facts.update(
                rootfs.build_fresh_root(
                    tmp_bytes=1 << 20, tmp_inodes=64, uid=uid, pid_namespace=False, has_cuda=False
                )
            )
        except OSError as exc:
            errors["fresh root"] = str(exc)
    facts.update(seccomp_filter.install())
    if "seccomp_error" in facts:
        errors["seccomp"] = facts["seccomp_error"]
    facts["private_proc"] = facts["namespaces"]["pid"] and facts.get("fresh_root", False)
    layers = child.layers_of(facts)
    try:  # in a container whose user namespace does not map ``uid``, this fails
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        layers["unprivileged user"] = os.getuid() == uid != 0
    except OSError as exc:
        layers["unprivileged user"] = False
        errors["unprivileged user"] = f"cannot become uid {uid}: {exc}"
    return {"layers": layers, "errors": errors}


def isolation_missing(facts: dict, *, required: tuple[str, ...] = REQUIRED_LAYERS) -> list[str]:
    """The ``required`` layers that a probe's report, or a finished run's facts, says are off,
    each with the kernel's reason where one was given; empty when the cells had them all."""
    layers = facts.get("layers")
    if layers is None:  # a run recorded before layers existed: namespaces and the cell uid
        namespaces = facts.get("namespaces") or {}
        missing = [f"{name} namespace" for name in LEGACY_NAMESPACES if not namespaces.get(name)]
        if not facts.get("uid"):
            missing.append("unprivileged user")
        return missing
    errors = facts.get("errors") or {}
    return [
        f"{layer} ({errors[layer]})" if errors.get(layer) else layer
        for layer in required
        if not layers.get(layer)
    ]
