"""What a warm fork server costs: its start time (spawn to ready) and its memory.

    .venv/bin/python bench/forkserver_footprint.py [ROUNDS]

Starts ROUNDS (default 5) fork servers one after the other and prints the median and the
slowest start time, then the memory of the last one, warm (after one answer ran): the RSS
and PSS of the server and of every process under it (its template and standby child share
the server's pages copy-on-write: PSS counts each shared page once across them).
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from answers.cells import parse_answer  # noqa: E402
from runner.engine.forkserver import ForkServer  # noqa: E402

CELL = "```python run\nimport torch\ntorch.ones(3).sum()\n```\n"


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            queue.extend(int(child) for child in children)
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    starts, server = [], None
    for _ in range(rounds):
        if server is not None:
            server.close()
        began = time.perf_counter()
        server = ForkServer.start()
        starts.append(time.perf_counter() - began)
    with server.run_answer(parse_answer(CELL).cells) as run:
        list(run)
    time.sleep(1.0)  # the next standby child forks and warms up after the answer
    processes = _descendants(server.pid)
    totals = [_memory_kib(pid) for pid in processes]
    own_rss, own_pss = totals[0]
    print(f"start: median {statistics.median(starts):.2f} s, max {max(starts):.2f} s ({rounds} starts)")
    print(f"server alone: RSS {own_rss / 1024:.0f} MiB, PSS {own_pss / 1024:.0f} MiB")
    print(
        f"server + {len(processes) - 1} processes under it: RSS {sum(r for r, _ in totals) / 1024:.0f} MiB,"
        f" PSS {sum(p for _, p in totals) / 1024:.0f} MiB"
    )
    server.close()


if __name__ == "__main__":
    main()
