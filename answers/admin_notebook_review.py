"""The review of an imported notebook, before it is published: per cell, whether its run matched
the output Jupyter stored (now its expected output), and where not, the diff and the one change
that would absorb an address, a float's last digits or a random number.

GET  /admin/kb/question/<pk>/notebook-review/        the cells of the answer's current run (view
                                                      permission on questions, else 403)
POST /admin/kb/question/<pk>/notebook-review/apply/  write one suggestion into the answer (CSRF,
                                                      change permission, else 403): a new revision,
                                                      which runs again; the suggestion is worked out
                                                      again on the server from the stored run, never
                                                      taken from the form
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from kb.models import Question
from runner import results as runner_results
from runner.engine.compare import diff

from .models import Answer
from .output_suggestions import SuggestionError, apply_suggestion, suggest
from .services import answer_save

# What the review calls each cell, from its run's status.
VERDICTS = {
    "passed": ("pass", "Matches its stored output"),
    "ran": ("ran", "Ran (no stored output to compare)"),
    "mismatch": ("differs", "Differs from its stored output"),
    "nondeterministic": ("differs", "The two runs disagree"),
    "figure_mismatch": ("differs", "A figure differs from its stored image"),
}


def notebook_review_cells(*, answer: Answer) -> list[dict]:
    run = answer.run
    if run is None:
        return []
    results = runner_results.run_results(run=run)
    cells = []
    for cell in run.cells:
        result = results.get(cell["index"])
        entry = {"index": cell["index"], "number": cell["index"] + 1, "line": cell["line"], "result": result}
        if result is None:
            entry.update(verdict="waiting", verdict_label="Not run yet", suggestion=None, diff="")
        else:
            verdict, label = VERDICTS.get(result["status"], ("failed", result["status_label"]))
            entry.update(
                verdict=verdict,
                verdict_label=label,
                diff=diff(result["expected"], result["output"])
                if result["status"] == "mismatch" and result["expected"] is not None
                else "",
                suggestion=_suggestion(cell, result) if run.is_finished else None,
            )
        cells.append(entry)
    return cells


def _suggestion(cell: dict, result: dict):
    return suggest(
        status=result["status"],
        expected=result["expected"],
        output=result["output"],
        code=cell["code"],
        tol=cell["options"].get("tol"),
    )


def _summary(cells: list[dict]) -> dict:
    counts = {"pass": 0, "ran": 0, "differs": 0, "failed": 0, "waiting": 0}
    for cell in cells:
        counts[cell["verdict"]] += 1
    return counts


def review_view(model_admin, request, pk: int):
    question = get_object_or_404(Question.objects.select_related("answer__run"), pk=pk)
    if not model_admin.has_view_permission(request, question):
        raise PermissionDenied
    answer = getattr(question, "answer", None)
    cells = notebook_review_cells(answer=answer) if answer is not None else []
    context = {
        **model_admin.admin_site.each_context(request),
        "question": question,
        "answer": answer,
        "run": answer.run if answer is not None else None,
        "cells": cells,
        "summary": _summary(cells),
        "can_change": model_admin.has_change_permission(request, question),
        "opts": Question._meta,
        "title": f"Review the imported notebook: {question.title}",
    }
    return render(request, "admin/kb/question/notebook_review.html", context)


def apply_view(model_admin, request, pk: int):
    question = get_object_or_404(Question, pk=pk)
    if not model_admin.has_change_permission(request, question):
        raise PermissionDenied
    try:
        cell_index = int(request.POST["cell"])
        run_id = int(request.POST["run"])
        kind = request.POST["kind"]
        with transaction.atomic():
            answer = (
                Answer.objects.select_for_update(of=("self",)).select_related("run").get(question=question)
            )
            if answer.run_id != run_id:
                raise SuggestionError("The answer changed since this page was shown: see the new run below.")
            cell = next((c for c in answer.run.cells if c["index"] == cell_index), None)
            result = runner_results.run_results(run=answer.run).get(cell_index)
            suggestion = _suggestion(cell, result) if cell and result and answer.run.is_finished else None
            if suggestion is None or suggestion.kind != kind:
                raise SuggestionError(f"Cell {cell_index + 1} has no such suggestion now.")
            body = apply_suggestion(answer.body, cell_index=cell_index, suggestion=suggestion)
            answer_save(question=question, body=body, by=request.user)
    except (KeyError, ValueError, Answer.DoesNotExist) as exc:
        messages.error(request, f"Not applied: {exc}")
    else:
        messages.success(
            request, f"Cell {cell_index + 1}: {suggestion.label.lower()}; the answer is running again."
        )
    return redirect("admin:kb_question_notebook_review", question.pk)


def notebook_review_urls(model_admin) -> list:
    site = model_admin.admin_site
    return [
        path(
            "<int:pk>/notebook-review/",
            site.admin_view(lambda request, pk: review_view(model_admin, request, pk)),
            name="kb_question_notebook_review",
        ),
        path(
            "<int:pk>/notebook-review/apply/",
            site.admin_view(require_POST(lambda request, pk: apply_view(model_admin, request, pk))),
            name="kb_question_notebook_review_apply",
        ),
    ]
