"""What a notebook's code cell brings besides its code: its stored outputs, images, tags, nbval
markers and execution timing, read as the options and expected output of a runnable cell.

Pure: the cells are nbformat's dict-like nodes (or plain dicts), no Django.

What becomes the expected output, in the order Jupyter shows it:
- `stream` outputs named stdout, `execute_result` text/plain (plus a newline, as the product
  prints the repr of the last expression on its own line) and text-only `display_data`
  (what `display(x)` showed); `\\r` is folded as a terminal and Jupyter do, so the progress
  line "10%\\r100%" is expected as "100%".
- Not kept: stderr (the product never compares it), the text/plain of an output that also
  holds an image ("<Figure size 640x480 with 1 Axes>"), and `error` outputs: an error's name
  becomes `raises=` when the cell is tagged as raising, else the review shows the error.
- image/png of `display_data` or `execute_result`, in order: the cell's approved figures.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from runner.engine.compare import terminal_text

from .cells import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S

# nbval's comment markers (first lines of a cell) and their cell-tag spellings.
_NBVAL_MARKER = re.compile(r"^\s*#\s*(NBVAL_[A-Z_]+)\s*$", re.MULTILINE)
_NBVAL_TAGS = {
    "nbval-ignore-output": "NBVAL_IGNORE_OUTPUT",
    "nbval-check-output": "NBVAL_CHECK_OUTPUT",
    "nbval-raises-exception": "NBVAL_RAISES_EXCEPTION",
    "nbval-skip": "NBVAL_SKIP",
    "raises-exception": "NBVAL_RAISES_EXCEPTION",  # Jupyter's own tag: run on past the error
}
KNOWN_MARKERS = frozenset(_NBVAL_TAGS.values())

# A proposed timeout: this many times the time the cell took in Jupyter (the sandbox may be a
# slower machine, and a first run warms caches), rounded up to 10 s, never under the default.
TIMING_MARGIN = 3.0


@dataclass
class StoredCell:
    """One code cell's stored outputs and markers, as the import reads them."""

    text: str | None = None  # the expected output; None when the cell showed no text
    images: list[bytes] = field(default_factory=list)
    error_name: str | None = None  # the ename of a stored error output
    markers: frozenset[str] = frozenset()
    duration_s: float | None = None  # from the notebook's execution timing metadata

    @property
    def skip(self) -> bool:
        return "NBVAL_SKIP" in self.markers

    @property
    def ignore_output(self) -> bool:
        return "NBVAL_IGNORE_OUTPUT" in self.markers

    @property
    def check_output(self) -> bool:
        return "NBVAL_CHECK_OUTPUT" in self.markers

    @property
    def raises(self) -> bool:
        return "NBVAL_RAISES_EXCEPTION" in self.markers


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _png(value) -> bytes | None:
    try:
        return base64.b64decode(_text(value).replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None  # a damaged image: simply not kept


def _markers(cell) -> frozenset[str]:
    found = set(_NBVAL_MARKER.findall(_text(cell.get("source"))))
    tags = (cell.get("metadata") or {}).get("tags") or []
    if isinstance(tags, list):
        found |= {_NBVAL_TAGS[tag] for tag in tags if isinstance(tag, str) and tag in _NBVAL_TAGS}
    return frozenset(found & KNOWN_MARKERS)


def _when(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def cell_duration(metadata: dict) -> float | None:
    """Seconds the cell took, from JupyterLab's `execution` timing, papermill's `duration` or
    the ExecuteTime extension; None when the notebook recorded none (or nonsense)."""
    metadata = metadata or {}
    papermill = metadata.get("papermill")
    if isinstance(papermill, dict) and isinstance(papermill.get("duration"), (int, float)):
        seconds = float(papermill["duration"])
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    pairs = []
    execution = metadata.get("execution")
    if isinstance(execution, dict):
        pairs.append((execution.get("iopub.execute_input"), execution.get("shell.execute_reply")))
    execute_time = metadata.get("ExecuteTime")
    if isinstance(execute_time, dict):
        pairs.append((execute_time.get("start_time"), execute_time.get("end_time")))
    for start, end in pairs:
        start, end = _when(start), _when(end)
        if start is not None and end is not None and (start.tzinfo is None) == (end.tzinfo is None):
            seconds = (end - start).total_seconds()
            if seconds >= 0:
                return seconds
    return None


def proposed_timeout(duration_s: float | None) -> float | None:
    """The `timeout=` the import writes for a cell that took ``duration_s`` in Jupyter: None
    (the default, 60 s) when unknown or short, else a margin over it, at most the cap."""
    if duration_s is None:
        return None
    seconds = math.ceil(duration_s * TIMING_MARGIN / 10) * 10
    if seconds <= DEFAULT_TIMEOUT_S:
        return None
    return min(float(seconds), MAX_TIMEOUT_S)


def stored_cell(cell) -> StoredCell:
    """Read one nbformat code cell's outputs, markers and timing."""
    texts, images, error_name = [], [], None
    for output in cell.get("outputs") or []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            texts.append(_text(output.get("text")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            png = _png(data["image/png"]) if "image/png" in data else None
            if png is not None:
                images.append(png)
            elif "text/plain" in data:
                plain = _text(data["text/plain"])
                texts.append(plain if plain.endswith("\n") else plain + "\n")
        elif kind == "error" and isinstance(output.get("ename"), str):
            error_name = output["ename"]
    text = terminal_text("".join(texts)) if texts else None
    return StoredCell(
        text=text,
        images=images,
        error_name=error_name,
        markers=_markers(cell),
        duration_s=cell_duration(cell.get("metadata")),
    )
