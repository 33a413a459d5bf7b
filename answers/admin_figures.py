"""Admin pages for approved figures: approve figures, see a figure mismatch or a nondeterministic cell.

GET  /admin/kb/question/<pk>/figures/          approved, new and difference images side by side
POST /admin/kb/question/<pk>/figures/approve/  approve one figure of the current run (CSRF, and
                                                the change permission on questions, else 403)
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from kb.models import Question
from runner import results as runner_results

from .approvals import ApprovalError, current_approvals, figure_approve
from .models import FigureApproval


def _url(name: str | None) -> str | None:
    return default_storage.url(name) if name else None


def figure_review_cells(*, question: Question) -> list[dict]:
    """What the review page shows per cell of the answer's current run."""
    answer = getattr(question, "answer", None)
    run = answer.run if answer is not None else None
    if run is None:
        return []
    results = runner_results.run_results(run=run)
    approvals = current_approvals(question=question)
    cells = []
    for cell in run.cells:
        result = results.get(cell["index"])
        if result is None:
            cells.append({"index": cell["index"], "line": cell["line"], "result": None, "figures": []})
            continue
        checks = result["checks"]
        by_position = {c["position"]: c for c in checks.get("figures", [])}
        count = max(len(result["figures"]), max(by_position, default=-1) + 1)
        figures = []
        for position in range(count):
            check = by_position.get(position, {})
            approval = approvals.get((cell["index"], position))
            figures.append(
                {
                    "position": position,
                    "number": position + 1,
                    "new": result["figures"][position]["url"] if position < len(result["figures"]) else None,
                    "approved": approval.image.url if approval else None,
                    "approval": approval,
                    "diff": _url(check.get("diff_path")),
                    "check": check,
                }
            )
        reproduction = checks.get("reproduction")
        cells.append(
            {
                "index": cell["index"],
                "number": cell["index"] + 1,
                "line": cell["line"],
                "result": result,
                "figures": figures,
                "reproduction": reproduction,
                "second_figures": [_url(p) for p in (reproduction or {}).get("second_figures", [])],
            }
        )
    return cells


def figures_view(model_admin, request, pk: int):
    question = get_object_or_404(Question.objects.select_related("answer__run"), pk=pk)
    if not model_admin.has_view_permission(request, question):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "question": question,
        "run": getattr(getattr(question, "answer", None), "run", None),
        "cells": figure_review_cells(question=question),
        "history": FigureApproval.objects.filter(question=question).select_related("approved_by")[:50],
        "can_approve": model_admin.has_change_permission(request, question),
        "opts": Question._meta,
        "title": f"Figures and reproducibility: {question.title}",
    }
    return render(request, "admin/kb/question/figures.html", context)


def approve_view(model_admin, request, pk: int):
    question = get_object_or_404(Question.objects.select_related("answer"), pk=pk)
    if not model_admin.has_change_permission(request, question):
        raise PermissionDenied
    try:
        run_id = int(request.POST["run"])
        cell_index = int(request.POST["cell"])
        position = int(request.POST["figure"])
        figure_approve(
            question=question, run_id=run_id, cell_index=cell_index, position=position, by=request.user
        )
    except (KeyError, ValueError, ApprovalError) as exc:
        messages.error(request, f"Not approved: {exc}")
    else:
        messages.success(
            request, f"Figure {position + 1} of cell {cell_index + 1} approved; the answer is running again."
        )
    return redirect("admin:kb_question_figures", question.pk)


def figure_urls(model_admin) -> list:
    site = model_admin.admin_site
    return [
        path(
            "<int:pk>/figures/",
            site.admin_view(lambda request, pk: figures_view(model_admin, request, pk)),
            name="kb_question_figures",
        ),
        path(
            "<int:pk>/figures/approve/",
            site.admin_view(require_POST(lambda request, pk: approve_view(model_admin, request, pk))),
            name="kb_question_approve_figure",
        ),
    ]
