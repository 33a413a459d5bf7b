"""Signals runner sends so other apps can react without runner importing them."""

from django.dispatch import Signal

# Sent after a run's last result is stored; kwargs: run (runner.models.Run).
run_finished = Signal()
# Sent after each cell's result is stored; kwargs: run, cell (runner.models.RunCell).
cell_finished = Signal()
