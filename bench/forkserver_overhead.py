"""Fork-server overhead per answer for a trivial torch cell, against the alternatives.

    .venv/bin/python bench/forkserver_overhead.py [ROUNDS]

Prints medians (and 90th percentiles) of:
- the fork server: one answer with `torch.ones(3).sum()`, from run_answer() to the cell's
  result, and to the end of the run (child reaped, sandbox torn down);
- the same cell executed in a warm process (exec of the compiled cell, libraries loaded);
- the same cell by `python -c` in a fresh interpreter;
and the fork server's resident memory with NumPy, torch and matplotlib loaded.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from answers.cells import parse_answer  # noqa: E402
from bench.support.report import pct  # noqa: E402
from runner.engine.forkserver import ForkServer  # noqa: E402

CELL = "import torch\ntorch.ones(3).sum()"


def show(label, seconds):
    median, p90 = statistics.median(seconds) * 1000, pct(seconds, 0.9) * 1000
    print(f"{label:<48} median {median:8.2f} ms   p90 {p90:8.2f} ms")


def main(rounds: int) -> None:
    cells = parse_answer(f"```python run\n{CELL}\n```\n").cells
    started = time.perf_counter()
    server = ForkServer.start()
    print(f"fork server start (imports, warm-up):            {time.perf_counter() - started:.2f} s")
    to_result, to_end = [], []
    for _ in range(3):
        server.run_answer(cells).wait()
    for _ in range(rounds):
        t0 = time.perf_counter()
        run = server.run_answer(cells)
        result = next(iter(run))
        t1 = time.perf_counter()
        run.wait()
        t2 = time.perf_counter()
        assert result.output == "tensor(3.)", result
        to_result.append(t1 - t0)
        to_end.append(t2 - t0)
    rss = server.resident_memory_bytes()
    sandbox = run.info.sandbox
    server.close()

    import torch  # noqa: F401 - the warm process has the libraries loaded, as the server does

    code = compile("torch.ones(3).sum()", "<cell>", "eval")
    namespace = {"torch": torch}
    warm = []
    for _ in range(rounds * 10):
        t0 = time.perf_counter()
        repr(eval(code, namespace))  # noqa: S307
        warm.append(time.perf_counter() - t0)

    fresh = []
    for _ in range(max(3, rounds // 10)):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import torch\nprint(repr(torch.ones(3).sum()))"],
            check=True,
            capture_output=True,
        )
        fresh.append(time.perf_counter() - t0)

    print(f"rounds: {rounds}; sandbox: namespaces={sandbox.get('namespaces')} uid={sandbox.get('uid')}")
    show("fork server: run_answer -> cell result", to_result)
    show("fork server: run_answer -> run finished", to_end)
    show("warm process: the cell alone", warm)
    show("fresh interpreter: python -c", fresh)
    overhead = statistics.median(to_result) - statistics.median(warm)
    print(f"fork-server overhead per answer (median, to result): {overhead * 1000:.2f} ms")
    ratio = statistics.median(fresh) / statistics.median(to_result)
    print(f"python -c / fork server (to result):                  {ratio:.1f}x")
    print(f"fork server resident memory:                          {rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
