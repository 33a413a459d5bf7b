"""The Pool page's SVG chart on its own (no database): lines break where a slot had no run,
every text is escaped, and the y axis ends at a round value above the highest p95."""

from runner.wait_chart import nice_ceiling, seconds_label, wait_chart_svg


def _slot(runs=0, p50=None, p95=None):
    return {"runs": runs, "p50": p50, "p95": p95}


def _chart(slots, title="Queue wait on cpu"):
    labels = [f"08:{5 * i:02d}" for i in range(len(slots))]
    return str(
        wait_chart_svg(
            chart_id="c", title=title, description="d", slots=slots, labels=labels, end_label="09:00"
        )
    )


def test_a_slot_without_runs_breaks_the_line():
    svg = _chart([_slot(2, 1, 2), _slot(), _slot(1, 3, 3), _slot(1, 4, 4)])
    p50 = svg.split('pool-chart__line--p50" d="')[1].split('"')[0]
    assert p50.count("M") == 2 and p50.count("L") == 1
    assert svg.count("pool-chart__mark--p50") == 3 and svg.count("pool-chart__mark--p95") == 3


def test_texts_are_escaped_and_named():
    svg = _chart([_slot(1, 1, 1)], title='<script>"x"</script>')
    assert "<script>" not in svg and "&lt;script&gt;&quot;x&quot;&lt;/script&gt;" in svg
    assert 'aria-labelledby="c-title c-desc"' in svg and '<desc id="c-desc">d</desc>' in svg


def test_the_axis_and_the_labels():
    assert [nice_ceiling(v) for v in (0, 0.4, 1.5, 19, 30, 250)] == [1, 1, 2, 20, 50, 500]
    assert [seconds_label(v) for v in (None, 0, 0.44, 42.4, 210)] == ["–", "0 s", "0.4 s", "42 s", "3.5 min"]
    assert "No run started" in _chart([_slot(), _slot()])
