"""`verify_markdown --json` gives the admin's verdict: it runs every file twice in two
sandboxes and compares figures with the approved PNGs beside the file."""

import json
import os
import subprocess
import sys
from pathlib import Path

from answers.cells import parse_answer

ROOT = Path(__file__).resolve().parents[2]


def verify(*paths):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_DEBUG"] = "1"
    command = [sys.executable, "manage.py", "verify_markdown", *map(str, paths), "--json"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)


PLOT = """---
title: A plot
slug: a-plot
---
```python run
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 10, 50)
fig, ax = plt.subplots()
ax.plot(x, np.roll(np.sin(x), SHIFT), label="sin")
ax.set_ylim(YLIM)
ax.legend()
```
"""


def plot(*, shift=0, ylim="-1.2, 1.2", slug="a-plot") -> str:
    return PLOT.replace("SHIFT", str(shift)).replace("YLIM", ylim).replace("a-plot", slug)


CLOCK = "```python run\nimport time\nprint(time.time())\n```\n"
SET_ORDER = "```python run\nprint(list({'apple', 'banana', 'cherry', 'date', 'elder', 'fig'}))\n```\n"


def test_nondeterministic_cells_and_figures_against_approved_pngs(tmp_path, server):
    # The approved image: drawn by the same sandbox the command uses.
    results, _ = server.run_answer(parse_answer(plot()).cells).wait()
    approved = results[0].figures[0]
    for slug in ("a-plot", "moved", "rescaled", "corrupt"):
        (tmp_path / "figures" / slug).mkdir(parents=True)
        (tmp_path / "figures" / slug / "cell-1-fig-1.png").write_bytes(approved)
    (tmp_path / "figures" / "corrupt" / "cell-1-fig-1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    files = {
        "clock.md": CLOCK,
        "allowed.md": CLOCK.replace("python run", "python run nondeterministic=true"),
        "sets.md": SET_ORDER,
        "same.md": plot(),
        "moved.md": plot(shift=1, slug="moved"),
        "rescaled.md": plot(ylim="-3, 3", slug="rescaled"),
        "corrupt.md": plot(slug="corrupt"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = verify(*(tmp_path / name for name in files))
    assert done.returncode == 1, done.stderr
    by_name = {Path(f["path"]).name: f for f in json.loads(done.stdout)["files"]}
    status = {name: (f["status"], f["cells"][0]["status"]) for name, f in by_name.items()}
    assert status == {
        "clock.md": ("failed", "nondeterministic"),
        "allowed.md": ("verified", "ran"),
        "sets.md": ("failed", "nondeterministic"),  # PYTHONHASHSEED differs between the runs
        "same.md": ("verified", "ran"),
        "moved.md": ("failed", "figure_mismatch"),
        "rescaled.md": ("failed", "figure_mismatch"),
        "corrupt.md": ("failed", "figure_mismatch"),
    }
    clock = by_name["clock.md"]["cells"][0]
    assert clock["checks"]["reproduced"] is False
    assert clock["checks"]["output_diff"].startswith("--- first run\n+++ second run")
    assert by_name["allowed.md"]["cells"][0]["checks"]["nondeterministic_allowed"] is True
    same = by_name["same.md"]["cells"][0]["checks"]
    assert same["reproduced"] is True and same["figures"][0]["match"] is True
    assert "differs from the approved figure" in by_name["moved.md"]["cells"][0]["error"]
    assert "authoring error" in by_name["corrupt.md"]["cells"][0]["error"]
