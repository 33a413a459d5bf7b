"""Verify Markdown files through the sandbox: what `manage.py verify_markdown` calls.

Pure of Django: a file is parsed with answers.cells, its cells run in one fork-server child,
and the file is `verified` only when it has no authoring error and every cell passed or ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from answers.cells import AuthoringError, parse_answer
from runner.engine.cascade import after_failures
from runner.engine.checks import check_cell
from runner.engine.protocol import OK_STATUSES, CellResult, RunInfo
from runner.engine.twice import TwiceRun

VERIFIED, FAILED = "verified", "failed"


@dataclass
class FileReport:
    path: str
    status: str
    cells: list[CellResult] = field(default_factory=list)
    errors: list[AuthoringError] = field(default_factory=list)
    info: RunInfo | None = None
    checks: dict[int, dict] = field(default_factory=dict)  # reproduction, figures
    # A notebook's report: the notebook cell number (1-based) of each runnable cell.
    notebook_cells: list[int] | None = None

    def to_json(self) -> dict:
        after = after_failures((r.index, r.status) for r in self.cells)
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
                    "displays": [d["kind"] for d in r.displays],
                    "duration_s": round(r.duration_s, 6),
                    "checks": _json_checks(self.checks.get(r.index, {})),
                    "after_failure": after.get(r.index),
                    **self._notebook_cell(r.index),
                }
                for r in self.cells
            ],
        }

    def _notebook_cell(self, index: int) -> dict:
        if self.notebook_cells is None or index >= len(self.notebook_cells):
            return {}
        return {"notebook_cell": self.notebook_cells[index]}


def _json_checks(checks: dict) -> dict:
    """What --json says of the checks: reproduced or not (and how), each figure's comparison."""
    out = {}
    reproduction = checks.get("reproduction")
    if reproduction is not None:
        out["reproduced"] = reproduction["reproduced"]
        out["nondeterministic_allowed"] = checks.get("nondeterministic_allowed", False)
        if not reproduction["reproduced"]:
            out["problems"] = reproduction["problems"]
            out["output_diff"] = reproduction["output_diff"]
    out["figures"] = checks.get("figures", [])
    return out


def answer_verified(results: list[CellResult]) -> bool:
    """shared/DESIGN.md: an answer is verified when every cell passed or ran."""
    return all(r.status in OK_STATUSES for r in results)


def _front_matter_slug(text: str, path: Path) -> str:
    """The article's slug as import_articles reads it (front matter), else the file's stem."""
    import re

    import yaml

    match = re.match(r"\A\ufeff?---\s*\n(.*?)\n---\s*$", text, re.S | re.M)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError:
            meta = {}
        if isinstance(meta, dict) and meta.get("slug"):
            return str(meta["slug"])
        if isinstance(meta, dict) and meta.get("title"):
            return re.sub(r"[^\w\s-]", "", str(meta["title"]).lower()).strip().replace(" ", "-")
    return path.stem


def approved_beside(path: Path, text: str) -> dict[int, dict[int, bytes]]:
    """Approved figures beside the file: figures/<slug>/cell-<n>-fig-<k>.png (1-based names),
    as {cell index: {figure position: PNG bytes}}."""
    directory = path.parent / "figures" / _front_matter_slug(text, path)
    found: dict[int, dict[int, bytes]] = {}
    if directory.is_dir():
        import re

        for png in sorted(directory.iterdir()):
            match = re.fullmatch(r"cell-(\d+)-fig-(\d+)\.png", png.name)
            if match and int(match[1]) >= 1 and int(match[2]) >= 1:
                found.setdefault(int(match[1]) - 1, {})[int(match[2]) - 1] = png.read_bytes()
    return found


def files_beside(path: Path, text: str) -> tuple[dict[str, bytes], list[AuthoringError]]:
    """The article's data files, as import_articles reads them: files/<slug>/ beside the file."""
    from runner.engine.datafiles import name_problem

    directory = path.parent / "files" / _front_matter_slug(text, path)
    files, errors = {}, []
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            problem = name_problem(entry.name)
            if entry.is_symlink() or not entry.is_file():
                problem = "only plain files may be data files (no folders or links)"
            if problem:
                errors.append(AuthoringError(0, f"data file {directory.name}/{entry.name}: {problem}"))
            else:
                files[entry.name] = entry.read_bytes()
    return files, errors


def verify_markdown_file(
    path: str | Path,
    *,
    server,
    on_result: Callable[[CellResult], None] | None = None,
    second_server=None,
) -> FileReport:
    """Parse ``path`` and run its cells on ``server`` (a ForkServer); never raises for content.

    With ``second_server`` (started with another hash seed) every cell runs twice and must
    reproduce, and figures are compared with the approved PNGs beside the file, as the
    workers do, so an author gets the admin's verdict on the command line.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return FileReport(name, FAILED, errors=[AuthoringError(0, f"cannot read file: {exc}")])
    files, file_errors = files_beside(Path(path), text)
    if file_errors:
        return FileReport(name, FAILED, errors=file_errors)
    return verify_markdown_text(
        name,
        text,
        approved=approved_beside(Path(path), text),
        server=server,
        on_result=on_result,
        second_server=second_server,
        files=files,
    )


def verify_notebook_file(
    path: str | Path,
    *,
    server,
    on_result: Callable[[CellResult], None] | None = None,
    second_server=None,
    figures: bool = True,
) -> FileReport:
    """Check a notebook's code cells against the outputs Jupyter stored in it: its text outputs
    are the expected outputs and (with ``figures``) its images the approved figures, as "Start
    from a notebook" imports them; nbval's markers and the raises-exception tag are honoured."""
    from answers.notebook_import import NotebookError, notebook_import

    name = str(path)
    try:
        imported = notebook_import(Path(path).read_bytes(), keep_outputs=True, keep_figures=figures)
    except OSError as exc:
        return FileReport(name, FAILED, errors=[AuthoringError(0, f"cannot read file: {exc}")])
    except NotebookError as exc:
        return FileReport(name, FAILED, errors=[AuthoringError(0, str(exc))])
    approved: dict[int, dict[int, bytes]] = {}
    for (index, position), png in imported.figures.items():
        approved.setdefault(index, {})[position] = png
    report = verify_markdown_text(
        name,
        imported.markdown,
        approved=approved,
        server=server,
        on_result=on_result,
        second_server=second_server,
    )
    report.notebook_cells = imported.notebook_cells
    return report


def verify_markdown_text(
    name: str,
    text: str,
    *,
    approved: dict[int, dict[int, bytes]],
    server,
    on_result: Callable[[CellResult], None] | None = None,
    second_server=None,
    files: dict[str, bytes] | None = None,
) -> FileReport:
    """Run the Markdown ``text``'s cells on ``server``; ``approved`` are the approved figures,
    ``files`` the answer's data files."""
    parsed = parse_answer(text)
    if parsed.errors:
        # Cells with authoring errors are not run: a wrong option could change what runs.
        return FileReport(name, FAILED, errors=parsed.errors)
    options = {cell.index: cell.options.as_dict() for cell in parsed.cells}
    if second_server is not None:
        pairs = TwiceRun(server, second_server, parsed.cells, files=files)
    else:
        pairs = ((result, None) for result in server.run_answer(parsed.cells, files=files))
    results, checks = [], {}
    for first, second in pairs:
        checked = check_cell(
            first, options=options.get(first.index, {}), second=second, approved=approved.get(first.index, {})
        )
        results.append(checked.result)
        checks[first.index] = checked.checks
        if on_result is not None:
            on_result(checked.result)
    status = VERIFIED if answer_verified(results) else FAILED
    info = getattr(pairs, "info", None)
    return FileReport(name, status, cells=results, info=info, checks=checks)
