"""The authors' reference, docs/authoring.md, rendered for staff at /admin/authoring/ with the
same Markdown renderer as answers (sanitised), so the admin's help can link to it and it is
always the version of the file that ships with the code."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .rendering import RenderedAnswer, render_answer

AUTHORING_DOC = settings.BASE_DIR / "docs" / "authoring.md"
_cache: dict[float, RenderedAnswer] = {}


def authoring_reference() -> RenderedAnswer:
    """Rendered once per version of the file (its modification time)."""
    mtime = AUTHORING_DOC.stat().st_mtime
    if mtime not in _cache:
        _cache.clear()
        _cache[mtime] = render_answer(AUTHORING_DOC.read_text(encoding="utf-8"))
    return _cache[mtime]


def authoring_reference_view(request: HttpRequest) -> HttpResponse:
    reference = authoring_reference()
    context = {
        **admin.site.each_context(request),
        "title": "Writing verified answers",
        "reference": reference,
    }
    return render(request, "admin/authoring.html", context)
