"""A cell's output as the page shows it: its text, with each rich output in place of its text.

The runner keeps every shown object's text/plain in the cell's output (what expected outputs
and the double run compare) and its HTML, Markdown or SVG beside it. Here each rich output
takes the place of its text where that text is found in the output (in order), or comes after
the text when it is not. Nothing a cell produced reaches the page unsanitised: HTML and
Markdown go through the same sanitiser as the prose (no script, style, event handler or
foreign image), and an SVG is shown only as an image (a data: URL in <img>), in which browsers
run no script and load nothing.
"""

from __future__ import annotations

import base64

import markdown
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def _sanitised(item: dict, number: int) -> SafeString | None:
    from .rendering import sanitize

    kind, content = item.get("kind"), item.get("content") or ""
    if kind == "text/html":
        return mark_safe(sanitize(content))  # noqa: S308 - nh3 output: only allow-listed tags
    if kind == "text/markdown":
        return mark_safe(sanitize(markdown.markdown(content, extensions=["tables", "fenced_code"])))  # noqa: S308
    if kind == "image/svg+xml":
        encoded = base64.b64encode(content.encode("utf-8", "replace")).decode()
        return format_html(
            '<img class="cell__svg" src="data:image/svg+xml;base64,{}" alt="{}">',
            encoded,
            f"Image displayed by cell {number}",
        )
    return None


def output_parts(output: str, displays: list[dict], number: int) -> list[dict]:
    """[{"text": ...} | {"rich": SafeString, "kind": ...}] in the order the page shows them."""
    parts: list[dict] = []
    unplaced: list[dict] = []
    cursor = 0
    for item in displays:
        rich = _sanitised(item, number)
        if rich is None:
            continue
        text = item.get("text") or ""
        if item.get("trailing") and text and output.endswith(text) and len(output) - len(text) >= cursor:
            position = len(output) - len(text)
        else:
            position = output.find(text, cursor) if text else -1
        if position < 0:
            unplaced.append({"rich": rich, "kind": item["kind"]})
            continue
        if output[cursor:position].strip():
            parts.append({"text": output[cursor:position]})
        parts.append({"rich": rich, "kind": item["kind"]})
        cursor = position + len(text)
        if output[cursor : cursor + 1] == "\n":
            cursor += 1
    if output[cursor:].strip():
        parts.append({"text": output[cursor:]})
    return parts + unplaced
