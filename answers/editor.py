"""What the answer editor asks the server while an author types: pure functions, no ORM.

The editor marks problems and renders its live preview with the server's own parser and
renderer (answers/cells.py, answers/rendering.py), so what it shows is what a save stores.
"""

from __future__ import annotations

from .cells import CELL_OPTION_NAMES, parse_answer

# Values offered after "name=" on a ```python run line; the names are the parser's own table.
_VALUE_HINTS = {
    "timeout": ["10", "60", "300"],
    "device": ["cpu", "cuda"],
    "raises": ["ValueError", "TypeError", "KeyError", "ZeroDivisionError"],
    "tol": ["1e-6", "1e-3"],
    "hide": ["true", "false"],
    "figtol": ["8", "16"],
    "nondeterministic": ["true", "false"],
    "seed": ["fixed"],
    "alt": ['""'],
    "caption": ['""'],
}
_INFO = {
    "timeout": "seconds the cell may run (default 60, at most 600)",
    "device": "cuda sends the answer to a GPU worker",
    "raises": "the exception the cell is expected to raise",
    "tol": "relative tolerance when comparing numbers in the output",
    "hide": "run the cell but show only its output",
    "figtol": "figure tolerance, 0-255 (default 8)",
    "nondeterministic": "two runs may differ; only the expected output is checked",
    "seed": "fixed: seed random, NumPy and torch with 0 before this cell in both runs",
    "alt": "the figure's alt text",
    "caption": "the figure's caption",
}


def cell_option_table() -> list[dict]:
    """Every option the parser accepts, with values to offer and a one-line explanation."""
    return [
        {"name": name, "values": _VALUE_HINTS.get(name, []), "info": _INFO.get(name, "")}
        for name in CELL_OPTION_NAMES
    ]


def authoring_check(body: str) -> dict:
    """The problems a save would record, each on its line, and where each cell sits."""
    parsed = parse_answer(body)
    return {
        "problems": [{"line": e.line, "message": e.message} for e in parsed.errors],
        "cells": [
            {"index": c.index, "line": c.line, "span": list(c.span), "has_expected": c.expected is not None}
            for c in parsed.cells
        ],
    }
