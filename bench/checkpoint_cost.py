"""What try-it checkpoints save and cost, in one fork server (no worker, no Redis):

    .venv/bin/python bench/checkpoint_cost.py [runs]

For a published prefix that takes ~3 s (it trains a small torch model) it prints the median
and p95 of a reader's trivial edited cell run with checkpoints off (the prefix re-run every
time: the baseline, in the same process) and on (forked from the warm checkpoint), and their
ratio; then a trivial prefix both ways (a standby child re-running it, a warm checkpoint's spare
reader); then each checkpoint's memory (PSS: copy-on-write pages shared with the fork server
counted once; and its private dirty pages) for three answers held at once.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.engine.checkpoint import memory_bytes, tree_memory_bytes  # noqa: E402
from runner.engine.forkserver import ForkServer  # noqa: E402

PREFIX = """import time, torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
data, target = torch.randn(2048, 64), torch.randn(2048, 1)
optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
started = time.perf_counter()
while time.perf_counter() - started < 3:
    optimiser.zero_grad(); torch.nn.functional.mse_loss(model(data), target).backward(); optimiser.step()
print("trained")
"""
ON = {"max": 4, "budget_bytes": 4 * 1024**3}
OFF = {"max": 0, "budget_bytes": 0}


def cell(index: int, code: str) -> dict:
    return {"index": index, "line": 1, "code": code, "options": {"timeout": 60}, "expected": None}


def one(server, prefix: str, checkpoint: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    cells = [cell(0, prefix), cell(1, "model(torch.zeros(1, 64)).shape")]
    results, info = server.run_answer(cells, checkpoint=checkpoint).wait()
    assert [r.status.value for r in results] == ["ran", "ran"], results
    return (time.perf_counter() - started) * 1000, info.sandbox


def summary(name: str, samples: list[float]) -> float:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    median = statistics.median(samples)
    print(f"{name:<52} n={len(samples):<3} p50={median:8.1f} ms  p95={p95:8.1f} ms")
    return median


def private_dirty(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        return sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Private_Dirty:"))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    with ForkServer.start() as server:
        server.run_answer([cell(0, "1")]).wait()  # the server's first sandbox
        baseline = summary(
            "prefix re-run every time (checkpoints off)", [one(server, PREFIX, OFF)[0] for _ in range(3)]
        )
        first, facts = one(server, PREFIX, ON)
        print(f"{'first run with checkpoints on (builds it)':<52} {first:8.1f} ms  ({facts['checkpoint']})")
        warm = [one(server, PREFIX, ON) for _ in range(runs)]
        assert all(f["checkpoint"] == "warm" for _, f in warm)
        median = summary("forked from the warm checkpoint", [ms for ms, _ in warm])
        print(
            f"ratio: the warm run takes {median / baseline:.3f} of the baseline "
            f"({baseline / median:.0f}x faster)"
        )
        # A trivial prefix, readers a moment apart (the spare reader is ready): what forking from a
        # checkpoint costs against a standby child that simply re-runs the prefix.
        for name, checkpoint in (
            ("trivial prefix, standby child re-runs it", OFF),
            ("trivial prefix, warm checkpoint", ON),
        ):
            samples = []
            for _ in range(runs + 3):
                time.sleep(0.2)
                samples.append(one(server, "import torch\nmodel = torch.nn.Linear(64, 1)", checkpoint)[0])
            summary(name, samples[3:])
        pids = []
        for n in range(3):
            _, facts = one(server, PREFIX + f"\nanswer = {n}", ON)
            pids.append(facts["checkpoint_pid"])
        for pid in pids:
            print(
                f"checkpoint {pid}: PSS {memory_bytes(pid) / 2**20:6.1f} MiB, with its spare reader "
                f"{tree_memory_bytes(pid) / 2**20:6.1f} MiB, "
                f"private dirty {private_dirty(pid) / 2**20:6.1f} MiB"
            )
    print(f"load after:  {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
