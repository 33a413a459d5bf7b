"""The admin's Pool page, /admin/pool/: per queue the workers alive, runs queued and running,
and the p50/p95 queue wait of the last hour as a chart. /admin/pool/live/ answers the page's
numbers alone, an HTML fragment from the same template, which static/js/admin_pool.js swaps in
every few seconds (so the chart is drawn in one place, here, and escaped by the templates).

Both are wrapped in admin.site.admin_view (config/urls.py): staff only, anyone else is sent to
the admin's login. They also need to see runs and workers, as the admin's own lists of them do.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from . import selectors
from .wait_chart import seconds_label, wait_chart_svg

POOL_PERMISSIONS = ("runner.view_run", "runner.view_worker")
REFRESH_S = 5


def _require_permissions(request: HttpRequest) -> None:
    if not request.user.has_perms(POOL_PERMISSIONS):
        raise PermissionDenied


def _clock(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _queue_rows(overview: dict) -> list[dict]:
    rows = []
    for index, queue in enumerate(overview["queues"]):
        waits = queue["waits"]
        labels = [_clock(slot["start"]) for slot in waits["slots"]]
        span = f"from {_clock(overview['since'])} to {_clock(overview['until'])}"
        if waits["runs"]:
            summary = (
                f"{waits['runs']} runs started {span}: p50 {seconds_label(waits['p50'])}, "
                f"p95 {seconds_label(waits['p95'])}."
            )
        else:
            summary = f"No run started {span}."
        chart = wait_chart_svg(
            chart_id=f"kb-pool-chart-{index}",
            title=f"Queue wait on {queue['name']}, last hour",
            description=f"p50 and p95 of how long runs on {queue['name']} waited for a worker, per "
            f"{int(overview['step'].total_seconds() // 60)} minutes. {summary}",
            slots=waits["slots"],
            labels=labels,
            end_label=_clock(overview["until"]),
        )
        slots = [
            {
                "label": f"{labels[i]}–{_clock(slot['start'] + overview['step'])}",
                "runs": slot["runs"],
                "p50": seconds_label(slot["p50"]),
                "p95": seconds_label(slot["p95"]),
            }
            for i, slot in enumerate(waits["slots"])
        ]
        rows.append(
            {
                **queue,
                "index": index,
                "chart": chart,
                "summary": summary,
                "slots": slots,
                "p50": seconds_label(waits["p50"]),
                "p95": seconds_label(waits["p95"]),
                "oldest_wait": seconds_label(queue["oldest_wait_s"]),
            }
        )
    return rows


def _pool_context() -> dict:
    now = timezone.now()
    overview = selectors.pool_overview(now=now)
    return {
        "queues": _queue_rows(overview),
        "updated": timezone.localtime(now),
        "since": _clock(overview["since"]),
        "step_minutes": int(overview["step"].total_seconds() // 60),
        "timezone": timezone.get_current_timezone_name(),
    }


def pool_view(request: HttpRequest) -> HttpResponse:
    _require_permissions(request)
    context = {
        **admin.site.each_context(request),
        "title": "Pool",
        "pool": _pool_context(),
        "refresh_s": REFRESH_S,
    }
    return TemplateResponse(request, "admin/runner/pool.html", context)


def pool_live_view(request: HttpRequest) -> HttpResponse:
    _require_permissions(request)
    return TemplateResponse(request, "admin/runner/pool_live.html", {"pool": _pool_context()})
