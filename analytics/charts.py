"""A bar chart as plain SVG, drawn on the server: no chart library, no CDN, no JavaScript."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, PAD_BOTTOM, PAD_TOP = 720, 180, 22, 14


def bar_chart_svg(*, rows: list[dict], label_key: str, value_key: str, title: str) -> str:
    peak = max((row[value_key] for row in rows), default=0) or 1
    slot = WIDTH / max(len(rows), 1)
    plot = HEIGHT - PAD_BOTTOM - PAD_TOP
    bars = []
    for i, row in enumerate(rows):
        value = row[value_key]
        height = round(plot * value / peak, 1)
        bars.append(
            (
                round(i * slot + slot * 0.15, 1),
                round(PAD_TOP + plot - height, 1),
                round(slot * 0.7, 1),
                height,
                f"{row[label_key]}: {value}",
            )
        )
    rects = format_html_join(
        "",
        '<rect class="chart__bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        bars,
    )
    first = rows[0][label_key] if rows else ""
    last = rows[-1][label_key] if rows else ""
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        '<line class="chart__axis" x1="0" y1="{base}" x2="{w}" y2="{base}"/>{rects}'
        '<text class="chart__label" x="0" y="{h}">{first}</text>'
        '<text class="chart__label" x="{w}" y="{h}" text-anchor="end">{last}</text>'
        '<text class="chart__label" x="0" y="10">max {peak}</text></svg>',
        w=WIDTH,
        h=HEIGHT - 4,
        base=HEIGHT - PAD_BOTTOM,
        title=title,
        rects=rects,
        first=first,
        last=last,
        peak=peak,
    )
