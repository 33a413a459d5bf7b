"""`manage.py verify_markdown` through the real command line and the real sandbox."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ONE_OF_EACH = """# One cell of each status

```python run
x = 40 + 2
x
```

```output
42
```

```python run
print("no expected output")
```

```python run
x + 1
```

```output
44
```

```python run
1 / 0
```

```python run timeout=1
while True:
    pass
```

```python run
print("never")
```
"""

LIMITS = """```python run timeout=5
huge = bytearray(64 * 1024**3)
```

```python run timeout=5
while True:
    print("spam" * 1000)
```
"""

CRASH = """```python run
import os
os._exit(3)
```
"""

CUDA = """```python run device=cuda
import torch
torch.ones(1, device="cuda")
```
"""


def verify(*paths, json_output=True, junit_xml=None):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_DEBUG"] = "1"
    command = [sys.executable, "manage.py", "verify_markdown", *map(str, paths)]
    if json_output:
        command.append("--json")
    if junit_xml is not None:
        command += ["--junit-xml", str(junit_xml)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_one_cell_of_each_status(tmp_path):
    files = {
        "each.md": ONE_OF_EACH,
        "limits.md": LIMITS,
        "crash.md": CRASH,
        "cuda.md": CUDA,
        "spam.md": LIMITS.split("\n\n", 1)[1],
        "bad.md": "Intro\n\n```python run colour=red\nx = 1\n```\n",
        "clean.md": "Prose.\n\n```python run\n2 * 21\n```\n\n```output\n42\n```\n",
        # Its data file lies in files/<slug>/ beside it, where import_articles looks too.
        "names.md": "```python run\nprint(open('names.txt').read())\n```\n\n```output\nemma\n```\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "files" / "names").mkdir(parents=True)
    (tmp_path / "files" / "names" / "names.txt").write_text("emma\n")
    done = verify(*(tmp_path / name for name in files), junit_xml=tmp_path / "report.xml")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    by_name = {Path(f["path"]).name: f for f in document["files"]}
    statuses = {name: [c["status"] for c in f["cells"]] for name, f in by_name.items()}
    assert statuses["each.md"] == ["passed", "ran", "mismatch", "error", "timeout", "skipped"]
    assert statuses["limits.md"] == ["memory_limit", "skipped"]
    assert statuses["crash.md"] == ["crashed"]
    assert statuses["spam.md"] == ["output_limit"]
    assert statuses["clean.md"] == ["passed"]
    assert statuses["names.md"] == ["passed"]
    # The timeout came after the ZeroDivisionError of cell 3: marked as such; a skipped cell is not.
    assert [c["after_failure"] for c in by_name["each.md"]["cells"]] == [None, None, None, None, 3, None]
    assert statuses["cuda.md"] in (["skipped"], ["ran"])  # ran only where a GPU exists
    assert {name: f["status"] for name, f in by_name.items()} == {
        "each.md": "failed",
        "limits.md": "failed",
        "spam.md": "failed",
        "crash.md": "failed",
        "bad.md": "failed",
        "clean.md": "verified",
        "names.md": "verified",
        "cuda.md": "failed" if statuses["cuda.md"] == ["skipped"] else "verified",
    }
    cell = by_name["each.md"]["cells"][0]
    assert set(cell) == {
        "index",
        "line",
        "status",
        "output",
        "expected",
        "stderr",
        "error",
        "figures",
        "duration_s",
        "checks",  # reproduction and figure comparisons
        "displays",  # the kinds of the rich outputs, in order ("text/html", ...)
        "after_failure",  # the index of the earlier cell this failure came after, or None
    }
    assert (cell["index"], cell["line"], cell["output"], cell["expected"]) == (0, 3, "42", "42")
    assert cell["figures"] == 0
    assert "ZeroDivisionError" in by_name["each.md"]["cells"][3]["error"]
    assert [c["status"] for c in by_name["limits.md"]["cells"]] == ["memory_limit", "skipped"]
    bad = by_name["bad.md"]
    assert bad["errors"][0]["line"] == 3 and "colour" in bad["errors"][0]["message"]
    _check_junit(tmp_path / "report.xml")


def _check_junit(path):
    """--junit-xml: one testsuite per file, one testcase per cell, failures carry the diff."""
    import xml.etree.ElementTree as ET

    suites = {Path(s.get("name")).name: s for s in ET.parse(path).getroot()}
    each = suites["each.md"]
    assert (each.get("tests"), each.get("failures"), each.get("skipped")) == ("6", "3", "1")
    cases = each.findall("testcase")
    assert [c.get("name") for c in cases[:2]] == ["cell 1 (line 3)", "cell 2 (line 12)"]
    assert cases[0].find("failure") is None and cases[1].find("failure") is None
    mismatch = cases[2].find("failure")
    assert mismatch.get("message") == "mismatch" and "-44" in mismatch.text and "+43" in mismatch.text
    assert "ZeroDivisionError" in cases[3].find("failure").text
    assert cases[4].find("failure").get("type") == "timeout" and cases[5].find("skipped") is not None
    bad = suites["bad.md"].find("testcase")
    assert bad.get("name") == "authoring" and "colour" in bad.find("failure").text
    assert suites["clean.md"].get("failures") == "0"


def test_exit_code_zero_only_when_every_file_is_verified(tmp_path):
    clean = tmp_path / "clean.md"
    clean.write_text("```python run\nprint('hi')\n```\n\n```output\nhi\n```\n")
    bad = tmp_path / "bad.md"
    bad.write_text("Intro\n\n```python run colour=red\nx = 1\n```\n")
    done = verify(clean, json_output=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout
    done = verify(clean, bad, json_output=False)
    assert done.returncode == 1
    assert "line 3" in done.stdout and "colour" in done.stdout and "failed" in done.stdout
