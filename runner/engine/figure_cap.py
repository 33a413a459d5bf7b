"""Count figures as a cell makes them: the one past the per-cell cap is refused on the spot.

Checking only the figures left open at the end of a cell lets a loop of plt.figure() calls run
until the cell's timeout (10,000 figures took longer than the limit) and report `timeout`.
Refusing the figure that goes past the cap ends the cell at once, as `output_limit`.
"""

from __future__ import annotations


class FigureLimitExceeded(RuntimeError):
    """Raised in the cell when it opens one figure more than a cell may leave open."""


class FigureCap:
    def __init__(self, per_cell: int):
        self.per_cell = per_cell
        self.refused: str | None = None

    def install(self) -> FigureCap:
        import matplotlib.pyplot as plt
        from matplotlib import _pylab_helpers

        make_manager = plt.new_figure_manager

        def new_figure_manager(*args, **kwargs):
            if len(_pylab_helpers.Gcf.figs) >= self.per_cell:
                self.refused = f"more than {self.per_cell} figures open in one cell"
                raise FigureLimitExceeded(self.refused)
            return make_manager(*args, **kwargs)

        # pyplot.figure (hence subplots, gcf, ...) looks this name up in its module each time.
        plt.new_figure_manager = new_figure_manager
        return self

    def take_refusal(self) -> str | None:
        """Why a figure was refused during the cell that just ran, if one was."""
        refused, self.refused = self.refused, None
        return refused
