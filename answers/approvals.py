"""Approved figures: staff approve a cell's figure; later runs are compared with it.

An approval is a row that is never edited: approving again adds a row (history kept), and
the newest row per (question, cell, figure) is the current one. The run request carries the
current approvals in its cells (``approved``), so the worker compares without knowing answers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction

from kb.models import Question
from runner import results as runner_results

from .models import FigureApproval

FIGURE_FILE = "cell-{cell}-fig-{figure}.png"  # 1-based, as the page numbers cells and figures


class ApprovalError(ValueError):
    """The figure cannot be approved; the message says why."""


def current_approvals(*, question: Question) -> dict[tuple[int, int], FigureApproval]:
    """The newest approval of each (cell index, figure position) of the question."""
    current: dict[tuple[int, int], FigureApproval] = {}
    for approval in FigureApproval.objects.filter(question=question).order_by("-approved_at", "-pk"):
        current.setdefault((approval.cell_index, approval.position), approval)
    return current


def approved_figure_images(*, question: Question) -> dict[tuple[int, int], bytes]:
    """The current approved PNGs, for the notebook export."""
    images = {}
    for key, approval in current_approvals(question=question).items():
        with approval.image.open("rb") as handle:
            images[key] = handle.read()
    return images


def with_approvals(cells: list[dict], *, question: Question) -> list[dict]:
    """The run request's cells, each with its approved figures (storage path and digest)."""
    if question.pk is None:
        return cells
    approvals = current_approvals(question=question)
    if not approvals:
        return cells
    out = []
    for cell in cells:
        approved = [
            {"position": position, "path": a.image.name, "sha256": a.sha256, "id": a.pk}
            for (index, position), a in sorted(approvals.items())
            if index == cell["index"]
        ]
        out.append({**cell, "approved": approved} if approved else cell)
    return out


def _approval_create(
    *, question, cell_index, position, png, by=None, run=None, revision=None, origin="admin"
):
    digest = hashlib.sha256(png).hexdigest()
    approval = FigureApproval(
        question=question,
        revision=revision,
        cell_index=cell_index,
        position=position,
        sha256=digest,
        source_run=run,
        origin=origin,
        approved_by=by,
    )
    approval.image.save(f"{digest}.png", ContentFile(png), save=False)
    approval.save()
    return approval


def figure_approve(*, question: Question, run_id: int, cell_index: int, position: int, by) -> FigureApproval:
    """Approve figure ``position`` of cell ``cell_index`` as drawn by run ``run_id``, then run
    the answer again so that its status reflects the new approval."""
    from .services import _latest_revision, answer_verify

    answer = question.answer
    png = runner_results.run_figure_png(run_id=run_id, cell_index=cell_index, position=position)
    if png is None:
        raise ApprovalError(f"Run {run_id} has no figure {position + 1} in cell {cell_index + 1}.")
    with transaction.atomic():
        approval = _approval_create(
            question=question,
            cell_index=cell_index,
            position=position,
            png=png,
            by=by,
            run=runner_results.run_get(run_id=run_id),
            revision=_latest_revision(answer),
        )
        # Twice, like a new revision: the run readers will see keeps "reproduced 2/2".
        answer_verify(answer=answer, twice=True)
    return approval


# --- files beside the Markdown (import_articles, verify_markdown) -------------------------------


def figures_dir(markdown_path: Path, slug: str) -> Path:
    """content/<file>.md keeps its approved figures in content/figures/<slug>/."""
    return markdown_path.parent / "figures" / slug


def read_approved_files(directory: Path) -> dict[tuple[int, int], bytes]:
    """{(cell index, figure position): PNG bytes} from cell-<n>-fig-<k>.png files (1-based)."""
    import re

    found: dict[tuple[int, int], bytes] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        match = re.fullmatch(r"cell-(\d+)-fig-(\d+)\.png", path.name)
        if match and int(match[1]) >= 1 and int(match[2]) >= 1:
            found[(int(match[1]) - 1, int(match[2]) - 1)] = path.read_bytes()
    return found


def approvals_sync_from_files(*, question: Question, files: dict[tuple[int, int], bytes], by=None) -> bool:
    """Add an approval (origin "import") for each file that differs from the current one."""
    current = current_approvals(question=question)
    changed = False
    for (cell_index, position), png in sorted(files.items()):
        existing = current.get((cell_index, position))
        if existing is not None and existing.sha256 == hashlib.sha256(png).hexdigest():
            continue
        _approval_create(
            question=question, cell_index=cell_index, position=position, png=png, by=by, origin="import"
        )
        changed = True
    return changed


def approvals_write_files(*, question: Question, directory: Path) -> list[Path]:
    """Write the current approvals as cell-<n>-fig-<k>.png (the export side of the round trip)."""
    written = []
    for (cell_index, position), approval in sorted(current_approvals(question=question).items()):
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FIGURE_FILE.format(cell=cell_index + 1, figure=position + 1)
        with approval.image.open("rb") as handle:
            path.write_bytes(handle.read())
        written.append(path)
    return written
