"""What the end-to-end bench measures, against what, and the targets it checks."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bench.support.database import PG_SERVER

ROOT = Path(__file__).resolve().parents[2]
# The script itself: it starts copies of itself as the probed worker and fork server.
SCRIPT = ROOT / "bench" / "end_to_end_latency.py"
# Overridable so that two people on one machine (or a baseline worktree) do not share them.
DB_NAME = os.environ.get("KB_BENCH_E2E_DB", "kb_bench_e2e")
# The name goes into CREATE/DROP DATABASE and LISTEN/pg_notify as an identifier: only a plain one.
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", DB_NAME):
    raise SystemExit(f"KB_BENCH_E2E_DB={DB_NAME!r}: lower-case letters, digits and _ only")
DATABASE_URL = f"{PG_SERVER}/{DB_NAME}"
# Not the tests' 14/15, nor article_throughput's 13.
BROKER_URL = os.environ.get("KB_BENCH_E2E_BROKER", "redis://127.0.0.1:6379/12")
CHANNEL = DB_NAME
CELL = "import torch\ntorch.ones(3).sum()"
CELL_OUTPUT = "tensor(3.)"
PYTHON_C = "import torch; print(torch.ones(3).sum())"
TARGET_MS = 25.0
TARGET_RATIO = 50.0
DISTURBED_CORES = 0.25  # other processes' cores during one answer's window above which it is marked
PROBE_LOG_ENV = "KB_E2E_PROBE_LOG"
REUSE_DB_ENV = "KB_E2E_REUSE_DB"
