"""What the first cell costs inside a freshly forked child, and how many page faults it takes.

    .venv/bin/python bench/cell_path_faults.py [--rounds 15]
    cd ../baseline && /path/to/this/.venv/bin/python /path/to/this/bench/cell_path_faults.py

The tree measured is the current directory's (so the same script times a baseline worktree).
The process preloads what the fork server preloads (runner.engine.forkserver._preload), then
for each round forks twice (server -> template -> child, as the engine does), lets the child
prepare as a standby child does before its job (the tree's cellexec.warm_up, and its prepared
Session where the tree has one) and times cellexec.run_cells on one trivial torch cell with
the minor page faults it took (copy-on-write copies of the preloaded heap, zero-filled pages).
No sandbox, database or worker: only what the child does between its job and its report.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("MPLBACKEND", "Agg")

CELL = {"index": 0, "code": "import torch\ntorch.ones(3).sum()", "options": {"timeout": 30}}


def minor_faults() -> int:
    with open("/proc/self/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


def child(report_fd: int) -> None:
    from runner.engine import cellexec
    from runner.engine.protocol import Limits

    limits = Limits()
    try:
        cellexec.warm_up(limits)
    except TypeError:  # a tree whose warm-up takes no limits
        cellexec.warm_up()
    prepared = {"session": cellexec.Session(limits)} if hasattr(cellexec, "Session") else {}
    ack_r, ack_w = os.pipe()
    _result_r, result_w = os.pipe()
    os.write(ack_w, b"..")  # the supervisor's acknowledgement, in advance
    faults, started = minor_faults(), time.perf_counter()
    cellexec.run_cells(
        cells=[CELL], result_fd=result_w, ack_fd=ack_r, limits=limits, has_cuda=False, **prepared
    )
    took, faulted = time.perf_counter() - started, minor_faults() - faults
    os.write(report_fd, json.dumps([took * 1000, faulted]).encode())
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from runner.engine import forkserver

    forkserver._preload()
    times, faults = [], []
    for _ in range(args.rounds):
        read_fd, write_fd = os.pipe()
        template = os.fork()
        if template == 0:
            pid = os.fork()
            if pid == 0:
                child(write_fd)
            os.waitpid(pid, 0)
            os._exit(0)
        os.close(write_fd)
        took, faulted = json.loads(os.read(read_fd, 1000))
        os.close(read_fd)
        os.waitpid(template, 0)
        times.append(took)
        faults.append(faulted)
    print(
        f"{os.getcwd()}: run_cells in a fresh child, {args.rounds} rounds:"
        f" median {statistics.median(times):.2f} ms"
        f" (min {min(times):.2f}), minor page faults median {statistics.median(faults):.0f};"
        f" load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
