"""The JSON form of a cell that runs are stored and queued with.

{"index": 0, "line": 12, "code": "...", "expected": "448" | null,
 "options": {"timeout": 60.0, "device": "cpu", "raises": null, "tol": null, "hide": false}}
"""

from __future__ import annotations

from types import SimpleNamespace


def cell_to_json(cell) -> dict:
    """From answers.cells.Cell (or anything with the same attributes)."""
    return {
        "index": cell.index,
        "line": cell.line,
        "code": cell.code,
        "expected": cell.expected,
        "options": cell.options.as_dict(),
    }


def cells_from_json(cells: list[dict]) -> list[SimpleNamespace]:
    """Objects with .code, .options.as_dict() and .expected, as execution_key reads them."""
    return [
        SimpleNamespace(
            code=c["code"], expected=c["expected"], options=SimpleNamespace(as_dict=lambda c=c: c["options"])
        )
        for c in cells
    ]


def queue_for(cells: list[dict]) -> str:
    return "gpu" if any(c["options"].get("device") == "cuda" for c in cells) else "cpu"
