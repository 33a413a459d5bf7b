"""An answer's data files in its sandbox: written into the cells' working directory, read-only.

Cells open them by bare name (``open("names.txt")``), as a notebook reads files beside it. The
working directory becomes root's, sticky and writable by all (like /tmp), and each data file
root's with mode 0444: the cell can still create files of its own there, but the kernel refuses
it any write, chmod, rename over or unlink of the data files (in a sticky directory only a
file's owner or the directory's may remove it). The working directory lives in the run's private
tmpfs, so one answer never sees another's files. Where the child is not root (a development
machine without the sandbox user) the files are only mode 0444, owned by the cell's user; the
run's provenance says which (``data_files`` in the sandbox facts).
"""

from __future__ import annotations

import base64
import os

# Names an author may give a data file: a plain file name of the working directory.
MAX_NAME_CHARS = 100


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a data file's name, or None. Shared with the Django side."""
    if not isinstance(name, str) or not name:
        return "a data file needs a name"
    if len(name) > MAX_NAME_CHARS:
        return f"the name {name[:40]!r}… is longer than {MAX_NAME_CHARS} characters"
    if "/" in name or "\\" in name or name in (".", ".."):
        return f"{name!r} is a path; give a plain file name (no folders)"
    if name.startswith("."):
        return f"{name!r} starts with a dot (hidden files are refused)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or name != name.strip():
        return f"{name!r} holds control characters or leading/trailing spaces"
    return None


def files_to_job(files: dict[str, bytes] | None) -> list[dict]:
    """The JSON form a job carries: [{"name", "data" (base64)}], in name order."""
    return [
        {"name": name, "data": base64.b64encode(data).decode()}
        for name, data in sorted((files or {}).items())
    ]


def install(files: list[dict], workdir: str) -> dict:
    """Write the job's files into ``workdir`` before the cells run (still as root where we are).

    Returns the facts for the run's provenance. A name that is not a plain file name is
    skipped and reported (the Django side refuses such names long before)."""
    if not files:
        return {}
    as_root = os.getuid() == 0
    refused = []
    if as_root:
        os.chown(workdir, 0, 0)
        os.chmod(workdir, 0o1777)  # noqa: S103 - sticky: the cell cannot remove root's files
    for entry in files:
        name = entry.get("name")
        if name_problem(name):
            refused.append(str(name)[:MAX_NAME_CHARS])
            continue
        path = os.path.join(workdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            data = memoryview(base64.b64decode(entry.get("data", "")))
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.chmod(path, 0o444)
    facts = {"data_files": {"count": len(files) - len(refused), "owner": "root" if as_root else "cell user"}}
    if refused:
        facts["data_files"]["refused"] = refused
    return facts
