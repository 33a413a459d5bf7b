"""`verify_markdown` never lets a cell drive the author's terminal.

The command runs for real, once on a pseudo-terminal (what an author sees) and once on a pipe:
a cell's output and traceback carrying OSC 0 (window title), OSC 52 (clipboard), a screen
clear, a carriage return, a C1 CSI and a bidi override show as escapes; tabs and newlines stay.
"""

import json
import os
import pty
import re
import subprocess
import sys
import threading
import tty
from pathlib import Path

from tests.runner.test_verify_markdown import ROOT, verify

# Python escapes in the cell's source, so the Markdown file itself is plain text.
HOSTILE = (
    r"title \x1b]0;pwned\x07 clipboard \x1b]52;c;cHduZWQ=\x07 clear \x1b[2J"
    r" cr \rhidden csi \x9b2J bidi \u202eevil tab\there"
)
ARTICLE = f"""# Hostile output

```python run
print("{HOSTILE}")
```

```output
something else
```

```python run
raise ValueError("\\x1b]0;from the traceback\\x07\\x1b[2J")
```
"""
RAW = {"\x1b]0;", "\x1b]52;", "\x1b[2J", "\x07", "\r", "\x9b", "\u202e"}
# Django's own colours, the only escape sequences the report may hold.
SGR = re.compile(r"\x1b\[[0-9;]*m")


def verify_on_a_terminal(path: Path) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(DJANGO_DEBUG="1", TERM="xterm-256color")
    master, slave = pty.openpty()
    tty.setraw(slave)  # no "\n" -> "\r\n": any carriage return read back came from the report
    command = [sys.executable, "manage.py", "verify_markdown", "--once", str(path)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    returncode = process.wait(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return returncode, b"".join(chunks).decode()


def assert_escaped(report: str) -> None:
    live = SGR.sub("", report)
    assert not [raw for raw in RAW if raw in live], report
    assert r"\x1b]0;pwned\x07" in live and r"\x1b]52;c;cHduZWQ=\x07" in live and r"\x1b[2J" in live
    assert r"\rhidden" in live and r"\x9b2J" in live and r"\u202eevil" in live
    assert "tab\there" in live  # a tab is kept as it is
    assert r"ValueError: \x1b]0;from the traceback\x07\x1b[2J" in live


def test_a_terminal_sees_the_cells_control_characters_escaped(tmp_path):
    path = tmp_path / "hostile.md"
    path.write_text(ARTICLE)
    returncode, report = verify_on_a_terminal(path)
    assert returncode == 1, report
    assert "mismatch" in report and "error" in report and "=> " in report
    assert_escaped(report)


def test_a_pipe_gets_the_same_escaped_report(tmp_path):
    path = tmp_path / "hostile.md"
    path.write_text(ARTICLE)
    result = verify(path, "--once", json_output=False)
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout  # no colours either: not a terminal
    assert_escaped(result.stdout)


def test_json_escapes_everything_and_keeps_the_exact_output(tmp_path):
    path = tmp_path / "hostile.md"
    path.write_text(ARTICLE)
    result = verify(path, "--once")
    assert result.returncode == 1, result.stderr
    assert not [raw for raw in RAW | {"\x1b"} if raw in result.stdout]
    cells = json.loads(result.stdout)["files"][0]["cells"]
    assert cells[0]["status"] == "mismatch"
    assert "\x1b]0;pwned\x07" in cells[0]["output"] and "\rhidden" in cells[0]["output"]
    assert cells[1]["status"] == "error" and "\x1b[2J" in cells[1]["error"]
