"""What the sandbox costs: this tree's fork server against a baseline tree's, answers interleaved.

    git worktree add /tmp/kb-base main && ln -s "$PWD/.venv" /tmp/kb-base/.venv
    .venv/bin/python bench/sandbox_cost.py --baseline /tmp/kb-base [--rounds 40]

Both servers run in this process's interpreter, one answer each in turn (A B A B ...), so load
from other work on the machine hits both alike. Per tree it prints medians and p90s of one
trivial torch cell, from run_answer() to the cell's result and to the end of the run:
- "standby": the usual case, the child was forked and sandboxed while the server was idle;
- "cold": every answer's set-up differs (its limits), so the child is forked and sandboxed
  while the answer waits: the whole price of namespaces, mounts (the fresh root) and seccomp.
And the ratio of this tree's medians to the baseline's. No database or broker is involved.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.engine import forkserver  # noqa: E402
from runner.engine.forkserver import ForkServer  # noqa: E402
from runner.engine.protocol import Limits  # noqa: E402

CELL = {
    "index": 0,
    "line": 1,
    "code": "import torch\ntorch.ones(3).sum()",
    "expected": "tensor(3.)",
    "options": {"timeout": 30, "device": "cpu", "raises": None, "tol": None, "hide": False},
}


class TreeForkServer(ForkServer):
    """ForkServer._spawn, with the engine imported from ``tree``."""

    def __init__(self, tree: Path, **kwargs):
        super().__init__(**kwargs)
        self.tree = tree

    def _spawn(self) -> None:
        env = {name: os.environ[name] for name in forkserver.SERVER_ENV_ALLOW if name in os.environ}
        env.update(
            PYTHONPATH=str(self.tree), PYTHONHASHSEED="0", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1"
        )
        self.process = subprocess.Popen(
            [self.python, "-m", "runner.engine.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
        )
        self.hello = self._receive(time.monotonic() + 120)

    def _job(self, cells, limits):
        """Only the limits the tree's engine knows (a baseline may predate a new one)."""
        job = super()._job(cells, limits)
        if self.tree != ROOT:
            job["limits"] = {k: v for k, v in job["limits"].items() if k in BASELINE_LIMIT_NAMES}
        return job


# Limits every tree since the bench was written understands; newer ones are left at their
# defaults when a baseline runs (traceback_bytes came later).
BASELINE_LIMIT_NAMES = (
    "answer_timeout_s", "setup_timeout_s", "memory_bytes", "cpu_s", "processes", "file_bytes",
    "open_files", "tmp_bytes", "tmp_inodes", "output_bytes", "repr_bytes", "figures_per_cell",
    "figures_per_answer", "figure_bytes", "figure_pixels", "threads",
)  # fmt: skip


def one_answer(server: ForkServer, limits: Limits) -> tuple[float, float, dict]:
    start = time.perf_counter()
    run = server.run_answer([CELL], limits=limits)
    result = next(iter(run))
    first = time.perf_counter()
    run.wait()
    end = time.perf_counter()
    assert result.status == "passed", (result.status, result.error, result.stderr)
    return (first - start) * 1000, (end - start) * 1000, run.info.sandbox


def stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values):7.2f} ms, p90 {p90:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the baseline (e.g. main)")
    parser.add_argument("--rounds", type=int, default=40, help="answers per tree and mode (40)")
    parser.add_argument("--modes", default="standby,cold", help="which paths to measure (standby,cold)")
    args = parser.parse_args()
    print(
        f"sandbox cost, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}"
    )
    trees = {"baseline": args.baseline.resolve(), "this tree": ROOT}
    servers = {name: TreeForkServer(tree).__enter__() for name, tree in trees.items()}
    try:
        for name, server in servers.items():
            layers = server.hello.get("isolation", {}).get("layers", "(not reported)")
            print(f"  {name}: {trees[name]} (git {git_head(trees[name])}); layers: {layers}")
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            times = {name: ([], []) for name in servers}
            for number in range(args.rounds + 3):
                # cold: a new memory limit each time, so no standby child matches the set-up
                limits = Limits() if mode == "standby" else replace(Limits(), memory_bytes=2**30 + number)
                for name, server in servers.items():
                    first, end, _ = one_answer(server, limits)
                    if number >= 3:  # warm-up
                        times[name][0].append(first)
                        times[name][1].append(end)
            print(f"-- {mode}: {args.rounds} answers per tree, interleaved")
            for name, (first, end) in times.items():
                print(f"  {name:9}  to the result: {stats(first)}   to the end: {stats(end)}")
            base, mine = times["baseline"], times["this tree"]
            print(
                f"  this tree / baseline (medians): to the result "
                f"{statistics.median(mine[0]) / statistics.median(base[0]):.2f}x, to the end "
                f"{statistics.median(mine[1]) / statistics.median(base[1]):.2f}x"
            )
    finally:
        for server in servers.values():
            server.close()
    print(f"load average after: {os.getloadavg()}")


def git_head(tree: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h"], capture_output=True, text=True
    )
    return result.stdout.strip() or "?"


if __name__ == "__main__":
    main()
