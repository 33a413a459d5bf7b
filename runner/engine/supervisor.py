"""In the fork server: run one answer in a sandboxed child, watch it, and grade each cell.

The supervisor alone decides a cell's status (from what it read on the child's stdout and
stderr and the child's report), enforces the wall-time, memory and output limits by killing
the child's whole process group and PID namespace, and always cleans up: no process of the
job survives it and its temporary directory is removed.

Its parts: ``child`` (the child's own set-up, then the cells), ``standby`` (a child forked and
sandboxed ahead of time), ``watch`` (the loop reading the child's pipes and the clean-up).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from runner.engine import watch
from runner.engine.child import cpu_share
from runner.engine.compare import matches
from runner.engine.protocol import FIGURE_TITLE_CHARS, CellResult, CellStatus, Limits, RunInfo
from runner.engine.report_check import OverLimit, ProtocolError, checked_report, text_bytes
from runner.engine.standby import SETUP_KEYS, Standby, setup_of
from runner.engine.template import Template, TemplateDied
from runner.engine.watch import MAX_ANSWER_TIMEOUT_S, answer_timeout, read_rss, sweep_orphans

__all__ = [
    "MAX_ANSWER_TIMEOUT_S",
    "SETUP_KEYS",
    "Standby",
    "Template",
    "TemplateDied",
    "answer_timeout",
    "cpu_share",
    "read_rss",
    "run_job",
    "setup_of",
    "sweep_orphans",
]


def _figure_titles(titles, count: int) -> list[str]:
    """One title per figure from the child's report, which is untrusted: anything but a string
    becomes "", and a string is cut to the length a title may have."""
    titles = titles if isinstance(titles, list) else []
    return [
        title[:FIGURE_TITLE_CHARS] if isinstance(title, str) else ""
        for title in (titles + [""] * count)[:count]
    ]


class _Job:
    """State of one answer's run as the supervisor sees it."""

    def __init__(self, job: dict, emit):
        self.job = job
        self.cells = job["cells"]
        self.limits = Limits(**job["limits"])
        self.emit = emit
        self.results: dict[int, CellResult] = {}
        self.info = RunInfo(started_at=time.time())
        self.current = 0  # position in self.cells of the cell running now
        self.cell_started = time.monotonic()
        self.ready = False
        self.done = False
        self.stop_reason: tuple[CellStatus, str] | None = None
        self.out = bytearray()
        self.err = bytearray()
        self.output_total = 0  # stdout, stderr, reprs and tracebacks, in bytes
        self.figures_taken = 0
        self.exit: dict | None = None
        self.baseline_rss = 0
        self.ack_fd = -1
        self.wait_child = None  # Standby.reap: the child's exit, from the template
        self.swept = 0

    # grading -----------------------------------------------------------------------------
    def _take_streams(self) -> tuple[str, str]:
        out = self.out.decode("utf-8", "replace")
        err = self.err.decode("utf-8", "replace")
        self.out.clear()
        self.err.clear()
        return out, err

    def grade(self, report: dict) -> None:
        if self.current >= len(self.cells):
            raise ValueError("report for a cell that does not exist")
        cell = self.cells[self.current]
        if report.get("index") != cell["index"]:
            raise ProtocolError("report out of order")
        try:
            report = checked_report(
                report,
                limits=self.limits,
                measured_s=time.monotonic() - self.cell_started,
                figures_so_far=self.figures_taken,
            )
        except OverLimit as exc:
            self.stop(CellStatus.OUTPUT_LIMIT, f"output limit: {exc}")
            return
        self.output_total += text_bytes(report)
        if self.output_total > self.limits.output_bytes:
            self.stop(CellStatus.OUTPUT_LIMIT, f"output limit of {self.limits.output_bytes} bytes exceeded")
            return
        self.figures_taken += len(report["figures"])
        stdout, stderr = self._take_streams()
        output = stdout
        if report.get("repr") is not None:
            output += ("" if not output or output.endswith("\n") else "\n") + report["repr"]
        expected = cell["expected"]
        options = cell["options"]
        error = None
        exception = report.get("exception")
        if report.get("skipped"):
            status, error = CellStatus.SKIPPED, report["skipped"]
        elif report.get("memory_error"):
            status, error = CellStatus.MEMORY_LIMIT, report["memory_error"]
        elif report.get("figure_limit"):
            # Before the exception: a refused figure raises one in the cell.
            status, error = CellStatus.OUTPUT_LIMIT, f"figure limit: {report['figure_limit']}"
        elif exception:
            error = exception["traceback"]
            if options.get("raises") and options["raises"] in exception["names"]:
                with_line = f"{output}\n{exception['line']}"
                if expected is None or any(
                    matches(expected, text, tol=options.get("tol")) for text in (output, with_line)
                ):
                    status = CellStatus.PASSED
                else:
                    status = CellStatus.MISMATCH
            else:
                status = CellStatus.ERROR
        elif options.get("raises"):
            status, error = CellStatus.MISMATCH, f"expected {options['raises']} to be raised; nothing was"
        elif expected is None:
            status = CellStatus.RAN
        else:
            matched = matches(expected, output, tol=options.get("tol"))
            status = CellStatus.PASSED if matched else CellStatus.MISMATCH
        figures = report["figures"]
        result = CellResult(
            index=cell["index"],
            line=cell["line"],
            status=status,
            output=output,
            expected=expected,
            stderr=stderr,
            error=error,
            figures=figures,
            figure_titles=_figure_titles(report.get("figure_titles"), len(figures)),
            duration_s=report["duration_s"],
            peak_memory_bytes=report["peak_memory_bytes"],
            displays=report["displays"],
            unseeded_random=report["unseeded_random"],
        )
        self._publish(result)

    def _publish(self, result: CellResult) -> None:
        self.results[result.index] = result
        self.current += 1
        self.cell_started = time.monotonic()
        self.emit({"t": "cell", "result": result.to_json()})

    def finish(self) -> None:
        """Results for the cells that never reported: the stopped one, then skipped ones."""
        reason = self.stop_reason
        if reason is None and not self.done and self.current < len(self.cells):
            reason = (CellStatus.CRASHED, self._crash_detail())
        if reason is not None and self.current < len(self.cells):
            cell = self.cells[self.current]
            stdout, stderr = self._take_streams()
            self._publish(
                CellResult(
                    index=cell["index"],
                    line=cell["line"],
                    status=reason[0],
                    output=stdout,
                    expected=cell["expected"],
                    stderr=stderr,
                    error=reason[1],
                    duration_s=time.monotonic() - self.cell_started,
                )
            )
        why = ""
        if self.current:
            why = f"not run: cell {self.cells[self.current - 1]['index']} ended the session"
        while self.current < len(self.cells):
            cell = self.cells[self.current]
            self._publish(
                CellResult(
                    index=cell["index"],
                    line=cell["line"],
                    status=CellStatus.SKIPPED,
                    expected=cell["expected"],
                    error=why or "not run: the session ended before it",
                )
            )
        if reason is not None:
            self.info.outcome, self.info.detail = str(reason[0]), reason[1]
        self.info.finished_at = time.time()

    def _crash_detail(self) -> str:
        if self.exit is None:
            return "the cell's process died"
        code = self.exit["code"]
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"the cell's process was killed by signal {-code} ({name})"
        return f"the cell's process exited with code {code}"

    def stop(self, status: CellStatus, detail: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = (status, detail)


def run_job(
    job: dict, *, emit, template, control_fd: int | None = None, standby: Standby | None = None
) -> bool:
    """Run one answer; ``emit`` receives each cell's result frame, then the end frame.

    Uses ``standby`` when it was prepared for this job's set-up, else has ``template`` (the
    process that forks every sandbox) fork a fresh child.
    Returns False when the caller has gone away (the server should exit).
    """
    limits = Limits(**job["limits"])
    job = dict(job, cpu_s=limits.cpu_s or answer_timeout(job["cells"], limits) * cpu_share(limits) + 5)
    state = _Job(job, emit)
    prepared = standby is not None and standby.usable_for(job)
    if standby is not None and not prepared:
        standby.discard()
    if not prepared:
        standby = Standby(setup_of(job), template)
    standby.hand(job)
    child = standby.child
    caller_alive = True
    state.ack_fd = standby.ack_w
    state.wait_child = standby.reap
    try:
        caller_alive = watch.watch(
            state, child, {name: pair[0] for name, pair in standby.pipes.items()}, control_fd
        )
    finally:
        _kill_job(state, child)
        standby.release()
    state.finish()
    emit({"t": "end", "info": state.info.__dict__})
    return caller_alive


def _kill_job(state: _Job, child: int) -> None:
    if state.exit is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)  # PID 1 of its namespace: the namespace dies with it
        watch.reap(state, child)
    # The template, the children's subreaper, swept what was left when it reaped the child.
    state.info.sandbox["swept_processes"] = state.swept
