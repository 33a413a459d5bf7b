"""The pure parts of running cells as Jupyter does: timing lines, the trailing `;`, %timeit's
options, and the shape checks on rich outputs a cell reports."""

import pytest

from runner.engine.compare import mask_timings, matches
from runner.engine.ipython_shell import MagicRefused, _timeit_options, ends_with_semicolon
from runner.engine.protocol import Limits
from runner.engine.report_check import OverLimit, ProtocolError, checked_report


def test_timing_lines_are_never_compared_but_everything_around_them_is():
    run_a = "CPU times: user 197 μs, sys: 82 μs, total: 279 μs\nWall time: 269 μs\n45"
    run_b = (
        "The slowest run took 5.23 times longer than the fastest. This could mean that an"
        " intermediate result is being cached.\n"
        "CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms\nWall time: 3.1 s\n45"
    )
    assert mask_timings(run_a) == mask_timings(run_b) == "<timing>\n<timing>\n45"
    assert matches(run_a, run_b)
    assert not matches(run_a, run_b.replace("45", "46"))
    timeit_line = "746 ns ± 152 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)"
    assert mask_timings(f"{timeit_line}\nok") == "<timing>\nok"
    assert mask_timings("Wall time is a phrase, not a timing") == "Wall time is a phrase, not a timing"


def test_a_trailing_semicolon_is_read_from_the_cells_last_token():
    assert ends_with_semicolon("x = 1\nx;")
    assert ends_with_semicolon("x;  # quiet\n\n")
    assert not ends_with_semicolon("x")
    assert not ends_with_semicolon("s = 'a;'\ns")
    assert not ends_with_semicolon("def f(:\n")


def test_timeit_options_are_read_as_ipython_reads_them():
    options, statement = _timeit_options("-n 3 -r2 -q sum(range(10))")
    assert (options["n"], options["r"], options["q"], statement) == (3, 2, True, "sum(range(10))")
    with pytest.raises(MagicRefused, match="does not take -x"):
        _timeit_options("-x 1")
    with pytest.raises(MagicRefused, match="needs a number"):
        _timeit_options("-n many x")


def _report(**fields) -> dict:
    return {"t": "cell", "index": 0, "duration_s": 0.0, "figures": [], **fields}


def test_rich_outputs_a_cell_reports_are_checked_for_shape_and_size():
    limits = Limits(repr_bytes=100, output_bytes=1000)
    good = {"kind": "text/html", "content": "<b>x</b>", "text": "X()", "trailing": True}
    clean = checked_report(_report(displays=[good]), limits=limits, measured_s=1, figures_so_far=0)
    assert clean["displays"] == [good] and clean["unseeded_random"] == []
    with pytest.raises(ProtocolError, match="not one of"):
        checked_report(
            _report(displays=[{**good, "kind": "application/javascript"}]),
            limits=limits,
            measured_s=1,
            figures_so_far=0,
        )
    with pytest.raises(OverLimit, match="longer than 100"):
        checked_report(
            _report(displays=[{**good, "content": "x" * 500}]), limits=limits, measured_s=1, figures_so_far=0
        )
    with pytest.raises(ProtocolError, match="generator names"):
        checked_report(_report(unseeded_random=["os.urandom"]), limits=limits, measured_s=1, figures_so_far=0)
