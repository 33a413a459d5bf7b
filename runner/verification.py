"""Verify Markdown files through the sandbox: what `manage.py verify_markdown` calls.

Pure of Django: a file is parsed with answers.cells, its cells run in one fork-server child,
and the file is `verified` only when it has no authoring error and every cell passed or ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from answers.cells import AuthoringError, parse_answer
from runner.engine.protocol import OK_STATUSES, CellResult, RunInfo

VERIFIED, FAILED = "verified", "failed"


@dataclass
class FileReport:
    path: str
    status: str
    cells: list[CellResult] = field(default_factory=list)
    errors: list[AuthoringError] = field(default_factory=list)
    info: RunInfo | None = None

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "status": self.status,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
            "cells": [
                {
                    "index": r.index,
                    "line": r.line,
                    "status": str(r.status),
                    "output": r.output,
                    "expected": r.expected,
                    "stderr": r.stderr,
                    "error": r.error,
                    "figures": len(r.figures),
                    "duration_s": round(r.duration_s, 6),
                }
                for r in self.cells
            ],
        }


def answer_verified(results: list[CellResult]) -> bool:
    """shared/DESIGN.md: an answer is verified when every cell passed or ran."""
    return all(r.status in OK_STATUSES for r in results)


def verify_markdown_file(
    path: str | Path, *, server, on_result: Callable[[CellResult], None] | None = None
) -> FileReport:
    """Parse ``path`` and run its cells on ``server`` (a ForkServer); never raises for content."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return FileReport(name, FAILED, errors=[AuthoringError(0, f"cannot read file: {exc}")])
    parsed = parse_answer(text)
    if parsed.errors:
        # Cells with authoring errors are not run: a wrong option could change what runs.
        return FileReport(name, FAILED, errors=parsed.errors)
    run = server.run_answer(parsed.cells)
    for result in run:
        if on_result is not None:
            on_result(result)
    status = VERIFIED if answer_verified(run.results) else FAILED
    return FileReport(name, status, cells=run.results, info=run.info)
