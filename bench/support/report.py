"""Printing a bench's progress and figures: log, fail, and one line of a list of timings."""

from __future__ import annotations

import statistics


def log(message: str = "") -> None:
    print(message, flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"FAILED: {message}")


def pct(values, q):
    """The q-quantile of values: the one at position q * (n - 1), rounded (q=0.95: the p95)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, right-aligned for columns."""
    return f"{seconds * 1000:8.2f}"


def stats_line(label: str, seconds: list[float], width: int = 58) -> str:
    """`label  median … ms  p90 … ms  min …  max …` for a list of durations in seconds."""
    if not seconds:
        return f"  {label:<{width}} (no data)"
    return (
        f"  {label:<{width}} median {ms(statistics.median(seconds))} ms   p90 {ms(pct(seconds, 0.9))} ms"
        f"   min {ms(min(seconds))}   max {ms(max(seconds))}"
    )
