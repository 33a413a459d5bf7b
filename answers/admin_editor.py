"""The answer editor's staff-only JSON endpoints: problems and live preview of a draft body.

POST only (the body can be long, and Django's CSRF check applies), for staff who may change
questions: a draft's text is theirs to see. Nothing here saves or publishes anything.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

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

    return [
        path("editor/check/", site.admin_view(check_view), name="kb_question_editor_check"),
        path("editor/preview/", site.admin_view(preview_view), name="kb_question_editor_preview"),
    ]


def answer_editor_config() -> dict:
    """What static/js/admin_answer_editor.js reads from the page (a json_script, not code)."""
    return {
        "checkUrl": reverse("admin:kb_question_editor_check"),
        "previewUrl": reverse("admin:kb_question_editor_preview"),
        "cellOptions": cell_option_table(),
    }
