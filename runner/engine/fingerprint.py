"""The worker environment's fingerprint and an answer's execution key.

The fingerprint never initialises CUDA in the calling process: a fork server that had touched
CUDA could no longer fork usable children. ``torch.version.cuda`` is a constant of the build,
and the device name comes from ``nvidia-smi`` in a short subprocess.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata

# The fields an execution key depends on (shared/DESIGN.md, "The flow of one answer"): a new
# GPU model or driver is provenance, shown on the badge, but does not re-run every answer.
# The libraries a cell's output depends on (the data-science stack and IPython, whose display
# rules make the text): a new version of any re-runs every answer once.
KEY_FIELDS = (
    "python",
    "torch",
    "numpy",
    "matplotlib",
    "pandas",
    "scipy",
    "scikit-learn",
    "ipython",
    "device",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_name() -> str | None:
    """Name of the first visible NVIDIA GPU, asked of nvidia-smi (no CUDA context here)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        done = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return names[0] if done.returncode == 0 and names else None


def _torch_cuda_version() -> str | None:
    """torch's build constant `cuda`, read from torch/version.py without importing torch.

    Importing torch costs ~200 MB and a second or two in every process that asks (the web
    process computing execution keys, the Celery main process publishing its heartbeat).
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            with open(f"{folder}/version.py", encoding="utf-8") as source:
                tree = ast.parse(source.read())
        except OSError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if (
                    any(isinstance(t, ast.Name) and t.id == "cuda" for t in targets)
                    and node.value is not None
                ):
                    value = ast.literal_eval(node.value)
                    return value if isinstance(value, str) else None
    return None


@lru_cache(maxsize=1)
def environment_fingerprint() -> dict:
    """What this machine runs cells with: versions, device class and name, CUDA version."""
    cuda_version = _torch_cuda_version()
    gpu = _gpu_name() if cuda_version else None
    return {
        "python": platform.python_version(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "matplotlib": _version("matplotlib"),
        "pandas": _version("pandas"),
        "scipy": _version("scipy"),
        "scikit-learn": _version("scikit-learn"),
        "ipython": _version("ipython"),
        "device": "cuda" if gpu else "cpu",
        "device_name": gpu or _cpu_name(),
        "cuda": cuda_version if gpu else None,
    }


def execution_key(cells: Iterable, fingerprint: dict) -> str:
    """sha256 of the ordered cells' code, options and expected output plus the fingerprint."""
    payload = {
        "cells": [[cell.code, cell.options.as_dict(), cell.expected] for cell in cells],
        "environment": {field: fingerprint.get(field) for field in KEY_FIELDS},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
