"""Figure comparison with real matplotlib figures: what must match, what must not."""

import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from runner.engine.checks import check_cell  # noqa: E402
from runner.engine.figures import (  # noqa: E402
    DEFAULT_FIGTOL,
    FigureReadError,
    compare_figures,
    decode_png,
    difference_png,
)
from runner.engine.protocol import CellResult, CellStatus  # noqa: E402


def draw(*, shift=0, ylim=None, legend=True, dpi=100.0, hinting=None) -> bytes:
    """The kind of figure an answer draws: two curves, a legend, saved at the figure's dpi."""
    rc = {"text.hinting": hinting} if hinting else {}
    with matplotlib.rc_context(rc):
        figure = plt.figure(dpi=dpi)
        x = np.linspace(0, 10, 50)
        axes = figure.gca()
        axes.plot(x, np.roll(np.sin(x), shift), label="sin")
        axes.plot(x, np.cos(x), label="cos")
        if ylim:
            axes.set_ylim(*ylim)
        if legend:
            axes.legend()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=figure.dpi)
        plt.close(figure)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def approved():
    return draw()


def test_an_identical_rerun_matches_exactly(approved):
    result = compare_figures(draw(), approved)
    assert result.match and result.rms == 0 and result.worst_tile_rms == 0
    assert result.reason.startswith("matches the approved figure")


@pytest.mark.parametrize("dpi", [100.05, 100.1])
def test_dpi_jitter_that_keeps_the_pixel_size_matches_within_tolerance(approved, dpi):
    # "Same size" comes first: a dpi that changes the size is a mismatch (next test); a backend
    # dpi a hair off renders every line and glyph shifted by a fraction of a pixel.
    new = draw(dpi=dpi)
    assert decode_png(new).shape == decode_png(approved).shape
    assert new != approved
    result = compare_figures(new, approved)
    assert result.match, result.reason
    assert 0 < result.worst_tile_rms < DEFAULT_FIGTOL / 2


def test_a_dpi_that_changes_the_size_fails_on_size_first(approved):
    result = compare_figures(draw(dpi=120), approved)
    assert not result.match
    assert result.reason == "the figure is 768x576 pixels, the approved one 640x480"


@pytest.mark.parametrize("hinting", ["none", "force_autohint"])
def test_font_hinting_noise_matches_within_tolerance(approved, hinting):
    new = draw(hinting=hinting)
    assert new != approved
    result = compare_figures(new, approved)
    assert result.match, result.reason


@pytest.mark.parametrize(
    "change",
    [{"shift": 1}, {"ylim": (-1.5, 1.5)}, {"legend": False}],
    ids=["curve-shifted-by-one-point", "changed-y-limit", "dropped-legend"],
)
def test_real_changes_fail(approved, change):
    result = compare_figures(draw(**change), approved)
    assert not result.match
    assert result.worst_tile_rms > 2 * DEFAULT_FIGTOL
    assert "differs from the approved figure" in result.reason


def test_a_looser_figtol_accepts_what_the_default_refuses(approved):
    assert compare_figures(draw(legend=False), approved, tolerance=40).match


def test_the_difference_image_is_a_png_dark_where_they_differ(approved):
    png = difference_png(draw(legend=False), approved)
    image = decode_png(png)
    assert image.shape[:2] == (480, 640)
    assert image.min() < 100 and np.median(image) == 255  # mostly white, dark where changed
    assert difference_png(draw(dpi=120), approved) is None  # sizes differ: nothing to show


@pytest.mark.parametrize("bad", [b"", b"not a png at all", None])
def test_a_corrupt_approved_image_is_a_clear_error(approved, bad):
    if bad is None:
        bad = approved[: len(approved) // 2]  # truncated
    with pytest.raises(FigureReadError):
        compare_figures(draw(), bad)


def _result(figures, status=CellStatus.RAN, output=""):
    return CellResult(index=0, line=3, status=status, output=output, figures=figures)


def test_check_cell_fails_a_changed_figure_as_figure_mismatch_with_a_diff(approved):
    checked = check_cell(_result([draw(shift=1)]), options={}, approved={0: approved})
    assert checked.result.status == CellStatus.FIGURE_MISMATCH
    assert "figure 1 differs from the approved figure" in checked.result.error
    assert checked.checks["figures"][0]["match"] is False and 0 in checked.diff_pngs


def test_check_cell_passes_a_matching_figure_and_records_the_comparison(approved):
    checked = check_cell(_result([draw()]), options={}, approved={0: approved})
    assert checked.result.status == CellStatus.RAN
    assert checked.checks["figures"] == [
        {**checked.checks["figures"][0], "position": 0, "approved": True, "match": True}
    ]


@pytest.mark.parametrize(
    ("approved_image", "message"),
    [
        (
            FileNotFoundError("approved/ab/ab12.png is missing"),
            "authoring error: figure 1's the approved image",
        ),
        (b"\x89PNG\r\n\x1a\n garbage", "authoring error: figure 1: cannot compare"),
    ],
    ids=["missing", "corrupt"],
)
def test_a_missing_or_corrupt_approved_image_is_an_authoring_error_not_a_crash(approved_image, message):
    checked = check_cell(_result([draw()]), options={}, approved={0: approved_image})
    assert checked.result.status == CellStatus.FIGURE_MISMATCH
    assert message in checked.result.error


def test_an_approved_figure_the_cell_no_longer_draws_fails(approved):
    checked = check_cell(_result([]), options={}, approved={0: approved})
    assert checked.result.status == CellStatus.FIGURE_MISMATCH
    assert "was approved but the cell drew 0" in checked.result.error


def test_a_cell_that_failed_on_its_own_keeps_its_status(approved):
    checked = check_cell(
        _result([draw(shift=1)], status=CellStatus.MISMATCH), options={}, approved={0: approved}
    )
    assert checked.result.status == CellStatus.MISMATCH


def test_two_runs_that_disagree_make_the_cell_nondeterministic_unless_it_says_so():
    first, second = _result([], output="0.1\n"), _result([], output="0.7\n")
    checked = check_cell(first, options={}, second=second)
    assert checked.result.status == CellStatus.NONDETERMINISTIC
    assert checked.checks["reproduction"]["output_diff"].splitlines()[:2] == [
        "--- first run",
        "+++ second run",
    ]
    allowed = check_cell(first, options={"nondeterministic": True}, second=second)
    assert allowed.result.status == CellStatus.RAN and allowed.checks["nondeterministic_allowed"]


def test_figures_that_differ_between_the_two_runs_are_nondeterministic(approved):
    checked = check_cell(_result([approved]), options={}, second=_result([draw(ylim=(-3, 3))]))
    assert checked.result.status == CellStatus.NONDETERMINISTIC
    assert "figure 1 differs from the first run" in checked.result.error


def test_memory_addresses_in_default_reprs_do_not_count_as_nondeterminism():
    first = _result([], output="[<matplotlib.lines.Line2D object at 0x7f3a1c2b9d10>]\n")
    second = _result([], output="[<matplotlib.lines.Line2D object at 0x7fe01d4c0a90>]\n")
    assert check_cell(first, options={}, second=second).result.status == CellStatus.RAN
    third = _result([], output="[<matplotlib.lines.Line2D object at 0x7fe01d4c0a90>, 2]\n")
    assert check_cell(first, options={}, second=third).result.status == CellStatus.NONDETERMINISTIC
