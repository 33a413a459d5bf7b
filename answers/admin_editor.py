"""The answer editor's staff-only JSON endpoints: problems, live preview and runs of a draft.

POST (the body can be long, and Django's CSRF check applies), for staff who may change
questions: a draft's text is theirs to see. A run's result (GET) is readable only by the staff
member who started it. Nothing here saves or publishes anything.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from kb.models import Question

from .draft_runs import DraftRunRefused, draft_run_apply, draft_run_result, draft_run_start
from .drafts import DraftRefused, draft_discard, draft_for, draft_save
from .editor import authoring_check, cell_option_table
from .limits import answer_size_problem
from .rendering import render_answer


def _draft_body(model_admin, request) -> str:
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    return request.POST.get("body", "")


def editor_urls(model_admin) -> list:
    site = model_admin.admin_site

    @require_POST
    def check_view(request):
        body = _draft_body(model_admin, request)
        if problem := answer_size_problem(body):
            return JsonResponse({"problems": [{"line": 1, "message": problem}], "cells": []})
        return JsonResponse(authoring_check(body))

    @require_POST
    def preview_view(request):
        body = _draft_body(model_admin, request)
        if problem := answer_size_problem(body):
            return JsonResponse({"error": problem}, status=413)
        # The published page's renderer, so the preview is what readers will see.
        return JsonResponse({"html": render_answer(body).html})

    @require_POST
    def run_view(request):
        body = _draft_body(model_admin, request)
        question = _question(model_admin, request)
        try:
            token = draft_run_start(
                user=request.user,
                body=body,
                cell_number=_cell_number(request),
                scope=request.POST.get("scope", "cell"),
                question=question,
            )
        except DraftRunRefused as refused:
            return _refusal(refused)
        url = reverse("admin:kb_question_editor_run_result", args=[token])
        return JsonResponse({"token": token, "resultUrl": url}, status=202)

    @require_GET
    def run_result_view(request, token):
        if not model_admin.has_change_permission(request):
            raise PermissionDenied
        try:
            result = draft_run_result(user=request.user, token=token)
        except DraftRunRefused as refused:
            return _refusal(refused)
        if result is None:
            return JsonResponse({"error": "No such run of yours (or its result has expired)."}, status=404)
        return JsonResponse(result)

    @require_POST
    def run_apply_view(request, token):
        body = _draft_body(model_admin, request)
        try:
            new_body = draft_run_apply(
                user=request.user,
                token=token,
                body=body,
                cell_number=_cell_number(request),
                action=request.POST.get("action", ""),
            )
        except DraftRunRefused as refused:
            return _refusal(refused)
        return JsonResponse({"body": new_body})

    @require_POST
    def draft_view(request):
        body = _draft_body(model_admin, request)
        question = _edited_question(model_admin, request)
        if request.POST.get("action") == "discard":
            draft_discard(author=request.user, question=question)
            return JsonResponse({"discarded": True})
        try:
            draft = draft_save(author=request.user, question=question, body=body)
        except DraftRefused as refused:
            return JsonResponse({"error": str(refused)}, status=400)
        return JsonResponse({"savedAt": draft.updated_at.isoformat()})

    return [
        path("editor/draft/", site.admin_view(draft_view), name="kb_question_editor_draft"),
        path("editor/check/", site.admin_view(check_view), name="kb_question_editor_check"),
        path("editor/preview/", site.admin_view(preview_view), name="kb_question_editor_preview"),
        path("editor/run/", site.admin_view(run_view), name="kb_question_editor_run"),
        path(
            "editor/run/<str:token>/",
            site.admin_view(run_result_view),
            name="kb_question_editor_run_result",
        ),
        path(
            "editor/run/<str:token>/apply/",
            site.admin_view(run_apply_view),
            name="kb_question_editor_run_apply",
        ),
    ]


def _cell_number(request) -> int:
    raw = request.POST.get("cell", "")
    if not raw.isdigit() or not 0 < int(raw) < 10_000:
        raise DraftRunRefused("Say which cell to run: 'cell' is its number, from 1.", status=400)
    return int(raw)


def _question(model_admin, request):
    """The question being edited, for its data files: None on the add page (or for junk)."""
    raw = request.POST.get("question", "")
    if not raw.isdigit():
        return None
    question = Question.objects.filter(pk=int(raw)).first()
    if question is None or not model_admin.has_change_permission(request, question):
        return None
    return question


def _edited_question(model_admin, request):
    """The question a draft belongs to: None for a new one; 404 for one that is not there."""
    raw = request.POST.get("question", "")
    if raw == "":
        return None
    question = Question.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    if question is None:
        raise Http404("No such question.")
    if not model_admin.has_change_permission(request, question):
        raise PermissionDenied
    return question


def _refusal(refused: DraftRunRefused) -> JsonResponse:
    response = JsonResponse({"error": str(refused)}, status=refused.status)
    if refused.retry_after_s:
        response["Retry-After"] = str(refused.retry_after_s)
    return response


def answer_editor_config(request, question_id: str | None = None) -> dict:
    """What static/js/admin_answer_editor.js reads from the page (a json_script, not code):
    the endpoints, the cell options, and the author's unsaved draft when there is one."""
    question = None
    if question_id and str(question_id).isdigit():
        question = Question.objects.select_related("answer").filter(pk=int(question_id)).first()
    saved = getattr(getattr(question, "answer", None), "body", "") if question else ""
    draft = None
    if request.user.is_authenticated and (question is not None or not question_id):
        draft = draft_for(author=request.user, question=question, saved_body=saved)
    return {
        "question": str(question.pk) if question else "",
        "draftUrl": reverse("admin:kb_question_editor_draft"),
        "draft": {"body": draft.body, "savedAt": draft.updated_at.isoformat()} if draft else None,
        "checkUrl": reverse("admin:kb_question_editor_check"),
        "previewUrl": reverse("admin:kb_question_editor_preview"),
        "runUrl": reverse("admin:kb_question_editor_run"),
        "cellOptions": cell_option_table(),
    }
