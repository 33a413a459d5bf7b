"""Can this process isolate cells? Tried for real in a throwaway child, before any job runs.

The child takes the sandbox's own steps (runner.engine.sandbox): new pid/net/mount/ipc/uts
namespaces, a private tmpfs mount, then the unprivileged cell uid. Whatever the kernel or the
container refuses shows up here, so a worker can refuse to start instead of running cells
unisolated (runner/isolation.py).
"""

from __future__ import annotations

import json
import os

from . import sandbox

REQUIRED_NAMESPACES = ("pid", "net", "mount", "ipc", "uts")


def probe_isolation(*, uid: int = sandbox.NOBODY_UID) -> dict:
    """{"namespaces": {name: bool}, "private_mounts": bool, "unprivileged_uid": bool}."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        facts: dict = {"namespaces": {}, "private_mounts": False, "unprivileged_uid": False}
        try:
            os.close(read_end)
            facts["namespaces"] = sandbox.unshare_namespaces()
            if facts["namespaces"].get("mount"):
                try:
                    sandbox._mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE, None)
                    sandbox._mount("tmpfs", "/tmp", "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "size=64k")
                    facts["private_mounts"] = True
                except OSError as exc:
                    facts["mount_error"] = str(exc)
            facts["unprivileged_uid"] = sandbox.drop_privileges(uid) and os.getuid() == uid != 0
        except BaseException as exc:  # reported, the parent decides
            facts["error"] = repr(exc)
        finally:
            os.write(write_end, json.dumps(facts).encode())
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"{}")


def isolation_missing(facts: dict) -> list[str]:
    """What a probe (or a run's sandbox facts) says is missing, in words; empty when isolated."""
    namespaces = facts.get("namespaces") or {}
    missing = [f"{name} namespace" for name in REQUIRED_NAMESPACES if not namespaces.get(name)]
    if "private_mounts" in facts and not facts["private_mounts"]:
        missing.append("private mounts")
    if "unprivileged_uid" in facts and not facts["unprivileged_uid"]:
        missing.append("an unprivileged uid for cells")
    if "uid" in facts and not facts["uid"]:  # a run's facts: the uid its cells ran as
        missing.append("an unprivileged uid for cells")
    return missing
