"""Admin pages for review before publishing.

GET  /admin/kb/question/<pk>/review/                  the latest revision against the published
                                                       one: prose, cells, outputs, figures, history
POST /admin/kb/question/<pk>/review/submit/           submit for review (change permission)
POST /admin/kb/question/<pk>/review/approve/          approve and publish (also kb.can_publish)
POST /admin/kb/question/<pk>/review/request-changes/  back to draft with a comment (the same)
Anonymous and non-staff get the admin login; staff lacking the permission get 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from kb.models import Question
from runner import results as runner_results

from .models import ReviewEvent
from .review_diff import cell_pairs, prose_diff
from .reviews import (
    COMMENT_MAX,
    ReviewError,
    review_approve,
    review_request_changes,
    review_submit,
    user_can_publish,
)


def _results(run) -> dict[int, dict]:
    return runner_results.run_results(run=run) if run is not None else {}


def _output_view(result: dict | None) -> dict | None:
    if result is None:
        return None
    return {
        "status": result["status"],
        "status_label": result["status_label"],
        "ok": result["ok"],
        "output": result["output"] or "",
        "error": result["error"] or "",
        "figures": [f["url"] for f in result["figures"]],
    }


def review_context(*, question: Question) -> dict:
    """Both revisions and both runs, cell by cell, as the review page shows them."""
    answer = getattr(question, "answer", None)
    latest = answer.revisions.select_related("run").order_by("-number").first() if answer else None
    published = answer.published_revision if answer else None
    old_body = published.body if published else ""
    new_body = latest.body if latest else ""
    old_run = (published.run or answer.published_run) if published else None
    new_run = (latest.run or answer.run) if latest else None
    old_results, new_results = _results(old_run), _results(new_run)
    cells = []
    for pair in cell_pairs(old_body, new_body):
        before = _output_view(old_results.get(pair.old_index)) if pair.old_index is not None else None
        after = _output_view(new_results.get(pair.new_index)) if pair.new_index is not None else None
        old_figures = before["figures"] if before else []
        new_figures = after["figures"] if after else []
        figures = [
            {
                "number": n + 1,
                "before": old_figures[n] if n < len(old_figures) else None,
                "after": new_figures[n] if n < len(new_figures) else None,
            }
            for n in range(max(len(old_figures), len(new_figures)))
        ]
        output_changed = (before or {}).get("output") != (after or {}).get("output")
        cells.append(
            {
                "pair": pair,
                "before": before,
                "after": after,
                "figures": figures,
                "output_changed": output_changed,
            }
        )
    return {
        "answer": answer,
        "latest": latest,
        "published": published,
        "same_revision": published is not None and latest is not None and published.pk == latest.pk,
        "old_run": old_run,
        "new_run": new_run,
        "prose": prose_diff(old_body, new_body),
        "cells": cells,
        "history": ReviewEvent.objects.filter(question=question).select_related("by", "revision")[:100],
    }


def review_view(model_admin, request, pk: int):
    question = get_object_or_404(Question.objects.select_related("answer__published_revision__run"), pk=pk)
    if not model_admin.has_view_permission(request, question):
        raise PermissionDenied
    can_change = model_admin.has_change_permission(request, question)
    state = question.review_state
    context = {
        **model_admin.admin_site.each_context(request),
        **review_context(question=question),
        "question": question,
        "can_submit": can_change and state != Question.ReviewState.IN_REVIEW,
        "can_decide": can_change and user_can_publish(request.user),
        "comment_max": COMMENT_MAX,
        "opts": Question._meta,
        "title": f"Review: {question.title}",
    }
    return render(request, "admin/kb/question/review.html", context)


def _revision_number(request) -> int | None:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return None


def _act(model_admin, request, pk: int, *, decide: bool, step, done: str):
    question = get_object_or_404(Question, pk=pk)
    if not model_admin.has_change_permission(request, question):
        raise PermissionDenied
    if decide and not user_can_publish(request.user):
        raise PermissionDenied  # a forged approve or request-changes from an author
    try:
        step(question)
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("admin:kb_question_review", pk)


def submit_view(model_admin, request, pk: int):
    return _act(
        model_admin,
        request,
        pk,
        decide=False,
        step=lambda q: review_submit(question=q, by=request.user, comment=request.POST.get("comment", "")),
        done="Submitted for review. Readers keep seeing the published revision until a reviewer approves.",
    )


def approve_view(model_admin, request, pk: int):
    return _act(
        model_admin,
        request,
        pk,
        decide=True,
        step=lambda q: review_approve(
            question=q,
            by=request.user,
            revision_number=_revision_number(request),
            comment=request.POST.get("comment", ""),
        ),  # fmt: skip
        done="Approved. Readers see this revision as soon as it verifies.",
    )


def request_changes_view(model_admin, request, pk: int):
    return _act(
        model_admin,
        request,
        pk,
        decide=True,
        step=lambda q: review_request_changes(
            question=q,
            by=request.user,
            revision_number=_revision_number(request),
            comment=request.POST.get("comment", ""),
        ),  # fmt: skip
        done="Changes requested: the question is a draft again and the author sees your comment.",
    )


def review_urls(model_admin) -> list:
    site = model_admin.admin_site

    def view(function, post=False):
        handler = lambda request, pk: function(model_admin, request, pk)  # noqa: E731
        return site.admin_view(require_POST(handler) if post else handler)

    return [
        path("<int:pk>/review/", view(review_view), name="kb_question_review"),
        path("<int:pk>/review/submit/", view(submit_view, post=True), name="kb_question_review_submit"),
        path("<int:pk>/review/approve/", view(approve_view, post=True), name="kb_question_review_approve"),
        path(
            "<int:pk>/review/request-changes/",
            view(request_changes_view, post=True),
            name="kb_question_review_request_changes",
        ),
    ]
