"""The supervisor believes nothing the sandbox says: every cell report is checked here first.

The cell runs in the same process that writes its reports, so a cell can write frames of its
own on the result pipe (20 MiB of "output", 120 SVG "figures" with a script, a
duration of -5 s). Each field is type- and range-checked; text counts against the answer's
output budget; figures must be PNGs, whole and within the byte, pixel and count caps.
``OverLimit`` ends the cell as ``output_limit``; ``ProtocolError`` ends the run as a protocol
violation. Pure: no Django, no processes.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib

from runner.engine.protocol import FIGURE_TITLE_CHARS, Limits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MESSAGE_CHARS = 1000  # skipped, memory_error, figure_limit: one line each
MAX_EXCEPTION_NAMES = 400  # every class of the exception's MRO, twice (name and dotted name)
MAX_NAME_CHARS = 500
MAX_PEAK_MEMORY = 1 << 50
DURATION_SLACK_S = 1.0
MAX_DISPLAYS = 50  # rich outputs (display() calls, a rich trailing value) of one cell
DISPLAY_KINDS = ("text/html", "text/markdown", "image/svg+xml")
RANDOM_GENERATORS = ("numpy", "random", "torch")  # the child's clock starts after ours; never this much later


class ProtocolError(ValueError):
    """The report is not what the cell runner writes: the sandbox broke the protocol."""


class OverLimit(Exception):
    """The report is well formed but carries more than the limits allow."""


def max_frame_bytes(limits: Limits) -> int:
    """The largest frame a cell runner can honestly write for one cell, as JSON.

    JSON escapes a character in at most 6 bytes; figures are base64 (4 bytes per 3).
    """
    # Rich outputs: their content and text together within the answer's output budget, twice.
    text = limits.repr_bytes + 2 * limits.output_bytes + 2 * limits.traceback_bytes + 4 * MAX_MESSAGE_CHARS
    names = MAX_EXCEPTION_NAMES * (MAX_NAME_CHARS + 3)
    figure = _base64_size(limits.figure_bytes) + 6 * FIGURE_TITLE_CHARS + 8
    return 6 * text + names + limits.figures_per_cell * figure + 64 * 1024


def checked_report(report: dict, *, limits: Limits, measured_s: float, figures_so_far: int) -> dict:
    """A clean copy of ``report`` with only the fields the supervisor uses, figures decoded."""
    clean = {
        "repr": _text(report, "repr", limit=None),
        "skipped": _message(report, "skipped"),
        "memory_error": _message(report, "memory_error"),
        "figure_limit": _message(report, "figure_limit"),
        "exception": _exception(report.get("exception"), limits),
        "figures": _figures(report.get("figures", []), limits, figures_so_far),
        "figure_titles": report.get("figure_titles"),
        "duration_s": _duration(report.get("duration_s", 0.0), measured_s),
        "peak_memory_bytes": _peak_memory(report.get("peak_memory_bytes")),
        "displays": _displays(report.get("displays", []), limits),
        "unseeded_random": _generators(report.get("unseeded_random", [])),
    }
    if clean["repr"] is not None and len(clean["repr"]) > limits.repr_bytes + 100:
        raise OverLimit(f"a repr of {len(clean['repr'])} characters (at most {limits.repr_bytes})")
    return clean


def text_bytes(clean: dict) -> int:
    """What a checked report adds to the answer's output budget (bytes of UTF-8)."""
    parts = [clean["repr"] or ""] + [item["content"] for item in clean["displays"]]
    if clean["exception"]:
        parts += [clean["exception"]["traceback"], clean["exception"]["line"]]
    return sum(len(part.encode("utf-8", "replace")) for part in parts)


def _displays(value, limits: Limits) -> list[dict]:
    """Rich outputs (HTML, Markdown, SVG): presentation the page sanitises; checked for shape
    and size here (each no longer than a repr, at most MAX_DISPLAYS per cell)."""
    if not isinstance(value, list):
        raise ProtocolError("displays are not a list")
    if len(value) > MAX_DISPLAYS:
        raise OverLimit(f"{len(value)} rich outputs in one cell (at most {MAX_DISPLAYS})")
    clean, total = [], 0
    for item in value:
        if not isinstance(item, dict) or item.get("kind") not in DISPLAY_KINDS:
            raise ProtocolError("a rich output is not one of " + ", ".join(DISPLAY_KINDS))
        content, text = item.get("content"), item.get("text")
        if not isinstance(content, str) or not isinstance(text, str):
            raise ProtocolError("a rich output's content or text is not a string")
        if len(content) > limits.repr_bytes + 100 or len(text) > limits.repr_bytes + 100:
            raise OverLimit(f"a rich output longer than {limits.repr_bytes} characters")
        total += len(content) + len(text)
        if total > 2 * limits.output_bytes:
            raise OverLimit(f"rich outputs beyond the output limit of {limits.output_bytes} bytes")
        clean.append(
            {"kind": item["kind"], "content": content, "text": text, "trailing": item.get("trailing") is True}
        )
    return clean


def _generators(value) -> list[str]:
    if not isinstance(value, list) or not all(name in RANDOM_GENERATORS for name in value):
        raise ProtocolError("unseeded_random is not a list of generator names")
    return sorted(set(value))


def _base64_size(size: int) -> int:
    return 4 * math.ceil(size / 3)


def _text(report: dict, key: str, *, limit: int | None) -> str | None:
    value = report.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{key} is not a string")
    return value if limit is None else value[:limit]


def _message(report: dict, key: str) -> str | None:
    return _text(report, key, limit=MAX_MESSAGE_CHARS)


def _exception(value, limits: Limits) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("exception is not an object")
    names = value.get("names")
    if not isinstance(names, list) or len(names) > MAX_EXCEPTION_NAMES:
        raise ProtocolError("exception names are not a short list")
    if not all(isinstance(name, str) and len(name) <= MAX_NAME_CHARS for name in names):
        raise ProtocolError("an exception name is not a short string")
    traceback_text = _text(value, "traceback", limit=None) or ""
    line = _text(value, "line", limit=None) or ""
    if len(traceback_text) > limits.traceback_bytes + 200 or len(line) > limits.traceback_bytes + 200:
        raise OverLimit(f"a traceback longer than {limits.traceback_bytes} characters")
    return {"names": names, "traceback": traceback_text, "line": line}


def _figures(value, limits: Limits, figures_so_far: int) -> list[bytes]:
    if not isinstance(value, list):
        raise ProtocolError("figures are not a list")
    if len(value) > limits.figures_per_cell:
        raise OverLimit(f"{len(value)} figures in one cell (at most {limits.figures_per_cell})")
    if figures_so_far + len(value) > limits.figures_per_answer:
        raise OverLimit(f"more than {limits.figures_per_answer} figures in the answer")
    pngs = []
    for encoded in value:
        if not isinstance(encoded, str):
            raise ProtocolError("a figure is not a string")
        if len(encoded) > _base64_size(limits.figure_bytes):
            raise OverLimit(f"a figure larger than {limits.figure_bytes} bytes")
        try:
            png = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"a figure is not base64: {exc}") from exc
        width, height = png_size(png)
        if width * height > limits.figure_pixels:
            raise OverLimit(f"a figure of {width}x{height} pixels (at most {limits.figure_pixels})")
        pngs.append(png)
    return pngs


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a whole, well-formed PNG: signature, IHDR first, every chunk's CRC,
    IEND last and nothing after it. Anything else (an SVG, a truncated file) is refused."""
    if not data.startswith(PNG_SIGNATURE):
        raise ProtocolError("a figure is not a PNG")
    position, first, size = len(PNG_SIGNATURE), True, None
    while True:
        if position + 12 > len(data):
            raise ProtocolError("a figure is a truncated PNG")
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if end > len(data):
            raise ProtocolError("a figure is a truncated PNG")
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack_from(">I", data, position + 8 + length)
        if zlib.crc32(kind + body) != crc:
            raise ProtocolError("a figure's PNG chunk fails its CRC")
        if first:
            if kind != b"IHDR" or length != 13:
                raise ProtocolError("a figure's PNG does not start with its header")
            size = struct.unpack_from(">II", body)
            first = False
        position = end
        if kind == b"IEND":
            break
    if position != len(data):
        raise ProtocolError("a figure has data after its PNG")
    if not size[0] or not size[1]:
        raise ProtocolError("a figure of zero pixels")
    return size


def _duration(value, measured_s: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("duration is not a number")
    value = float(value)
    if not math.isfinite(value) or value < 0 or value > measured_s + DURATION_SLACK_S:
        raise ProtocolError(f"a duration of {value!r} s for a cell that ran {measured_s:.3f} s")
    return value


def _peak_memory(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PEAK_MEMORY:
        raise ProtocolError("peak memory is not a plausible byte count")
    return value
