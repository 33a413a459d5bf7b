"""Readers' "Edit and run": the post that starts a run, its result page and its status.

Two clients, one set of views: the page's script asks for JSON (``Accept: application/json``)
and shows the result in place; without JavaScript the form posts as usual, gets a 303 to the
result page, which refreshes itself until the run is done. Nothing here is cached: these
views are not behind the page cache (kb.page_cache.reader_cached) and say ``no-store``.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_safe

from config.client_address import client_address
from runner.tryit_store import TryUnavailable

from . import try_runs
from .try_runs import TryRefused
from .tryit_limits import TryNotConfigured, client_hash
from .views import _published_answer

REFRESH_S = 1


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _owner(request: HttpRequest) -> str:
    # Set by CsrfViewMiddleware from the reader's cookie (a POST that passed CSRF always has one).
    return try_runs.owner_of(request.META.get("CSRF_COOKIE") or "")


def _refused(
    request: HttpRequest,
    *,
    message: str,
    status: int,
    retry_after_s: int | None = None,
    slug: str = "",
    number: int | None = None,
):
    if _wants_json(request):
        response = JsonResponse(
            {"error": message, "status": status, "retry_after_s": retry_after_s}, status=status
        )
    else:
        # The reader's code comes back in the page, ready to post again: a refusal loses nothing.
        code = request.POST.get("code", "")[: try_runs.MAX_CODE_CHARS] if request.method == "POST" else ""
        context = {
            "message": message,
            "status": status,
            "retry_after_s": retry_after_s,
            "slug": slug,
            "number": number,
            "code": code,
            "max_chars": try_runs.MAX_CODE_CHARS,
        }
        response = render(request, "answers/try_refused.html", context, status=status)
    if retry_after_s:
        response["Retry-After"] = str(retry_after_s)
    return _no_store(response)


def try_start(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    if request.method != "POST":
        response = _refused(
            request,
            message="Runs are started from the cell's Run button (a POST), not by opening this address.",
            status=405,
            slug=slug,
        )
        response["Allow"] = "POST"
        return response
    try:
        answer = _published_answer(slug)
    except Http404:
        return _refused(request, message="There is no published answer at this address.", status=404)
    try:
        client = client_hash(address=client_address(request))
        started = try_runs.try_start(
            answer=answer,
            cell_number=number,
            code=request.POST.get("code"),
            client=client,
            owner=_owner(request),
        )
    except TryRefused as refusal:
        return _refused(
            request,
            message=str(refusal),
            status=refusal.status,
            retry_after_s=refusal.retry_after_s,
            slug=slug,
            number=number if refusal.status in (429, 503, 413) else None,
        )
    except TryNotConfigured:
        return _refused(
            request, message="Edit and run is not available on this server.", status=503, slug=slug
        )
    except TryUnavailable:
        # The try-it store (Redis, or bin/run's SQLite file) did not answer within its timeout.
        return _refused(
            request,
            message="Edit and run cannot keep track of runs right now, so your code was not run. "
            "Please try again in a minute.",
            status=503,
            retry_after_s=30,
            slug=slug,
            number=number,
        )
    result_url = reverse("answers:try_result", args=[started.token])
    if _wants_json(request):
        body = {
            "token": started.token,
            "result_url": result_url,
            "status_url": reverse("answers:try_status", args=[started.token]),
        }
        return _no_store(JsonResponse(body, status=202))
    return _no_store(_see_other(result_url))


def _see_other(url: str) -> HttpResponse:
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def _result_for(request: HttpRequest, token: str) -> dict | None:
    """This browser's run, or None (unknown, expired, another browser's, or no store)."""
    try:
        return try_runs.try_result(token=token, owner=_owner(request))
    except TryNotConfigured:
        return None


@require_safe
def try_result(request: HttpRequest, token: str) -> HttpResponse:
    view = _result_for(request, token)
    if view is None:
        return _refused(
            request,
            message="There is no such run for this browser: results are shown only to the browser "
            "that started them, for a few minutes.",
            status=404,
        )
    context = {
        "run": view,
        "question": view["question"],
        "refresh_s": REFRESH_S,
        "max_chars": try_runs.MAX_CODE_CHARS,
    }
    return _no_store(render(request, "answers/try_result.html", context))


@require_safe
def try_status(request: HttpRequest, token: str) -> JsonResponse:
    view = _result_for(request, token)
    if view is None:
        return _no_store(
            JsonResponse(
                {"error": "There is no such run for this browser.", "state": "unknown", "done": True},
                status=404,
            )
        )
    return _no_store(JsonResponse(try_runs.as_json(view)))
