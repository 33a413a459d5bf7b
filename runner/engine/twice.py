"""Run one answer's cells in two independent sandboxes at once and pair their results.

The two fork servers were started with different PYTHONHASHSEED values (hash randomisation is
fixed at interpreter start); each run forks a fresh child and seeds as usual. The second run
goes on a thread: the two children are separate processes, so they really run in parallel,
and the caller still gets each cell as soon as both runs have finished it. Pure of Django.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .protocol import CellResult, CellStatus, RunInfo

# The second run's fork server is started with this PYTHONHASHSEED (the first uses 0).
SECOND_HASH_SEED = 1


class TwiceRun:
    """Iterate for (first, second) CellResult pairs in cell order; then ``info`` is set."""

    def __init__(self, first_server, second_server, cells: list, **run_kwargs):
        self.first = first_server.run_answer(cells, **run_kwargs)
        self._second_server = second_server
        self._cells = cells
        self._run_kwargs = run_kwargs
        self._second_results: dict[int, CellResult] = {}
        self._second_done = False
        self._second_error: str | None = None
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self.info: RunInfo | None = None
        self.second_info: RunInfo | None = None
        self._thread = threading.Thread(target=self._run_second, name="kb-second-run", daemon=True)
        self._thread.start()

    def _run_second(self) -> None:
        try:
            with self._second_server.run_answer(self._cells, **self._run_kwargs) as run:
                for result in run:
                    with self._condition:
                        self._second_results[result.index] = result
                        self._condition.notify_all()
                    if self._stop.is_set():
                        break
                self.second_info = run.info
        except Exception as exc:  # noqa: BLE001 - reported on every unpaired cell below
            self._second_error = f"the second run failed: {exc!r}"
        finally:
            with self._condition:
                self._second_done = True
                self._condition.notify_all()

    def _second_for(self, first: CellResult) -> CellResult:
        with self._condition:
            self._condition.wait_for(lambda: first.index in self._second_results or self._second_done)
            found = self._second_results.get(first.index)
        if found is not None:
            return found
        return CellResult(
            index=first.index,
            line=first.line,
            status=CellStatus.CRASHED,
            expected=first.expected,
            error=self._second_error or "the second run ended before this cell",
        )

    def __iter__(self) -> Iterator[tuple[CellResult, CellResult]]:
        try:
            for result in self.first:
                yield result, self._second_for(result)
            self.info = self.first.info
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self.first.close()
        self._thread.join()

    def __enter__(self) -> TwiceRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
