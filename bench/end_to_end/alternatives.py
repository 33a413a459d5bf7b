"""The same cell elsewhere: nbclient in a fresh Jupyter kernel, and `python -c` in a fresh
interpreter (what the end-to-end figures are compared with)."""

from __future__ import annotations

import subprocess
import sys
import time

from .params import CELL, PYTHON_C


def nbclient_runs(rounds: int) -> dict:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    spec = KernelSpecManager().get_kernel_spec("python3")
    marks: dict[str, float] = {}
    totals, to_executed, starts = [], [], []
    outputs = set()
    for _ in range(rounds):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
        marks.clear()
        client = NotebookClient(
            nb, kernel_name="python3", timeout=300, startup_timeout=120,
            on_notebook_start=lambda **kw: marks.setdefault("started", time.perf_counter()),
            on_cell_executed=lambda **kw: marks.setdefault("executed", time.perf_counter()),
        )
        t0 = time.perf_counter()
        client.execute()
        t1 = time.perf_counter()
        totals.append(t1 - t0)
        to_executed.append(marks["executed"] - t0)
        starts.append(marks["started"] - t0)
        for output in nb.cells[0].outputs:
            outputs.add(output.get("data", {}).get("text/plain", output.get("text", "")))
    command = spec.argv
    if command and command[0] in {"python", "python3"}:
        command = [sys.executable, *command[1:]]  # jupyter_client's own substitution
    return {"total": totals, "executed": to_executed, "start": starts, "outputs": outputs,
            "command": " ".join(command)}


def python_c_runs(rounds: int) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(rounds):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PYTHON_C], check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = done.stdout.strip()
    return times, out
