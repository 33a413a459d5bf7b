"""The Pool page's chart of queue waits: p50 and p95 per time slot as a plain SVG line chart,
drawn on the server (no chart library, no script). Every text goes through format_html, so a
queue or label is escaped; the chart is named by its <title> and <desc>, and the page shows
the same numbers as a table."""

from __future__ import annotations

import math

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 12, 26
SERIES = ("p50", "p95")


def seconds_label(seconds: float | None) -> str:
    """A wait for people: "0.4 s", "42 s", "3.5 min"; "–" when there is none."""
    if seconds is None:
        return "–"
    if seconds == 0:
        return "0 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1 s)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _points(slots: list[dict], key: str, top: float) -> list[tuple[float, float, dict] | None]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot_w = plot_w / max(len(slots), 1)
    points = []
    for i, slot in enumerate(slots):
        value = slot[key]
        if value is None:
            points.append(None)
            continue
        x = LEFT + slot_w * (i + 0.5)
        y = TOP + plot_h * (1 - min(value, top) / top)
        points.append((round(x, 1), round(y, 1), slot))
    return points


def _line(points) -> str:
    """An SVG path through the points, broken where a slot had no run."""
    path, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{point[0]} {point[1]}")
        pen_down = True
    return " ".join(path)


# p50 and p95 differ in shape and dash as well as colour (readable in grey, WCAG 1.4.1).
_MARKERS = {
    "p50": '<circle class="pool-chart__mark pool-chart__mark--p50" cx="{}" cy="{}" r="3.5">'
    "<title>{}</title></circle>",
    "p95": '<rect class="pool-chart__mark pool-chart__mark--p95" x="{}" y="{}" width="7" height="7">'
    "<title>{}</title></rect>",
}
_MARKER_OFFSET = {"p50": 0, "p95": -3.5}


def _series(slots: list[dict], labels: list[str], key: str, top: float) -> SafeString:
    points = _points(slots, key, top)
    offset = _MARKER_OFFSET[key]
    marks = [
        (x + offset, y + offset, f"{labels[i]}: {key} {seconds_label(slot[key])} ({slot['runs']} runs)")
        for i, point in enumerate(points)
        if point is not None
        for x, y, slot in [point]
    ]
    line = _line(points)
    if not line:
        return SafeString("")
    return format_html(
        '<path class="pool-chart__line pool-chart__line--{}" d="{}"/>{}',
        key,
        line,
        format_html_join("", _MARKERS[key], marks),
    )


def wait_chart_svg(
    *, chart_id: str, title: str, description: str, slots: list[dict], labels: list[str], end_label: str
) -> SafeString:
    """`slots`: [{"runs", "p50", "p95"}] in time order; `labels`: each slot's start ("08:05"),
    `end_label`: when the last slot ends. The y axis runs from 0 to a round value above the
    highest p95."""
    top = nice_ceiling(max((slot["p95"] or 0 for slot in slots), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    grid = format_html_join(
        "",
        '<line class="pool-chart__grid" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="pool-chart__label" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, y, WIDTH - RIGHT, y, LEFT - 6, y + 4, seconds_label(value))
            for value, y in ((top * f, round(TOP + plot_h * (1 - f), 1)) for f in (0, 0.5, 1))
        ),
    )
    slot_w = (WIDTH - LEFT - RIGHT) / max(len(slots), 1)
    ticks = format_html_join(
        "",
        '<text class="pool-chart__label" x="{}" y="{}" text-anchor="{}">{}</text>',
        [(round(LEFT + slot_w * i, 1), HEIGHT - 6, "start", labels[i]) for i in range(0, len(slots), 3)]
        + [(WIDTH - RIGHT, HEIGHT - 6, "end", end_label)],
    )
    empty = ""
    if not any(slot["runs"] for slot in slots):
        empty = format_html(
            '<text class="pool-chart__label" x="{}" y="{}" text-anchor="middle">No run started</text>',
            LEFT + (WIDTH - LEFT - RIGHT) / 2,
            TOP + plot_h / 2,
        )
    series = format_html_join("", "{}", ((_series(slots, labels, key, top),) for key in SERIES))
    return format_html(
        '<svg class="pool-chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        "{}{}{}{}</svg>",
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        grid,
        ticks,
        empty,
        series,
    )
