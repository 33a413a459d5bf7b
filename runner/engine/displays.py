"""What a cell shows besides its text: ``display()`` calls and a trailing value's rich repr.

Each shown object is formatted by IPython's DisplayFormatter. Its text/plain goes into the
cell's output, where Jupyter keeps it (it is what expected outputs and the double run
compare); the page shows, in its place, the richest of the object's HTML, Markdown or SVG
(sanitised when the page renders it). A PNG repr becomes one of the cell's figures, before
the matplotlib figures left open (as Jupyter shows them).
"""

from __future__ import annotations

import base64
import binascii
import sys

from runner.engine import ipython_shell
from runner.engine.report_check import ProtocolError, png_size

MAX_DISPLAYS_PER_CELL = 50


class Displays:
    """The rich items and images one cell displayed, in order."""

    def __init__(self, limits):
        self.limits = limits
        self.items: list[dict] = []
        self.pngs: list[bytes] = []
        self.notes: list[str] = []
        self.kept_chars = 0

    def show(self, value: object, *, trailing: bool) -> str:
        """Format ``value``; keep its rich part; return its text/plain."""
        data = ipython_shell.mime_bundle(value)
        text = data.get("text/plain")
        if text is None:
            text = ipython_shell.pretty_text(value, self.limits.repr_bytes)
        text = text[: self.limits.repr_bytes]
        self._keep_png(data.get("image/png"))
        for kind in ipython_shell.RICH_KINDS:
            content = data.get(kind)
            if isinstance(content, str) and content.strip():
                self._keep_rich(kind, content, text, trailing)
                break
        return text

    def _keep_rich(self, kind: str, content: str, text: str, trailing: bool) -> None:
        if len(self.items) >= MAX_DISPLAYS_PER_CELL:
            self.notes.append(f"more than {MAX_DISPLAYS_PER_CELL} rich outputs in one cell: the rest as text")
            return
        if len(content) > self.limits.repr_bytes:
            self.notes.append(
                f"a {kind} output of {len(content)} characters is shown as text"
                f" (at most {self.limits.repr_bytes})"
            )
            return
        self.kept_chars += len(content) + len(text)
        if self.kept_chars > self.limits.output_bytes:
            self.notes.append(f"rich outputs beyond {self.limits.output_bytes} characters are shown as text")
            return
        self.items.append({"kind": kind, "content": content, "text": text, "trailing": trailing})

    def _keep_png(self, encoded) -> None:
        if encoded is None:
            return
        try:
            png = encoded if isinstance(encoded, bytes) else base64.b64decode(encoded, validate=True)
            width, height = png_size(png)
        except (ProtocolError, binascii.Error, ValueError, TypeError) as exc:
            self.notes.append(f"an image/png output is not a PNG and is not shown ({exc})")
            return
        if width * height > self.limits.figure_pixels or len(png) > self.limits.figure_bytes:
            self.notes.append(f"an image of {width}x{height} pixels, {len(png)} bytes, is too large to show")
            return
        self.pngs.append(png)

    def display(self, *objects, raw: bool = False, **_options) -> None:
        """IPython's ``display()``: each object's text/plain is printed where it is called."""
        for value in objects:
            if raw and isinstance(value, dict):
                text = value.get("text/plain", "")
                self._keep_png(value.get("image/png"))
            else:
                text = self.show(value, trailing=False)
            print(text)

    def flush_notes(self) -> None:
        for note in self.notes:
            print(f"note: {note}", file=sys.stderr)
        self.notes.clear()


def install_display(display) -> None:
    """Make ``from IPython.display import display`` reach this cell's displays."""
    try:
        import IPython.core.display_functions as functions
        import IPython.display as public
    except ImportError:
        return
    functions.display = display
    public.display = display
