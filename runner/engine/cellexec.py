"""Inside the sandbox: run an answer's cells in order, in one namespace, like a notebook.

After each cell the runner sends one frame on the result pipe with what only it can see (the
last expression's repr, the exception, figures, peak memory); the supervisor reads stdout and
stderr itself and decides the cell's status, so a cell cannot grade itself by writing frames.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import gc
import io
import linecache
import math
import os
import sys
import time
import traceback
import warnings

from runner.engine import ipython_shell, seeds
from runner.engine.displays import Displays, install_display
from runner.engine.figure_cap import FigureCap
from runner.engine.protocol import FIGURE_TITLE_CHARS, encode_frame, write_frame
from runner.engine.report_check import MAX_EXCEPTION_NAMES, MAX_MESSAGE_CHARS

_OUT_OF_MEMORY_HINTS = ("can't allocate memory", "DefaultCPUAllocator: not enough memory")


def seed_everything() -> None:
    """The seed the page's run starts from (runner/engine/seeds.py has the whole contract)."""
    seeds.seed_everything(seeds.FIXED_SEED)


def warm_up(limits) -> None:
    """Touch, in a freshly forked child, the memory a first cell would touch, so those
    copy-on-write page faults happen while the child waits for its job rather than inside the
    answer's first cell: the compile path and torch's allocator, and every per-cell step
    run_cells takes around the cell (IPython's transformer check and trailing-``;`` rule, its
    DisplayFormatter on the value, the figures check, the peak-memory read, the report's JSON;
    the seeding and the generators' state read are the Session's, prepared right after this).
    Installs nothing, draws no random number and leaves no state a cell could see."""

    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    value = run_cell_code("import torch\ntorch.ones(3).sum()", "<warm-up>", namespace)
    displays = Displays(limits)
    report = {"t": "cell", "index": 0, "repr": displays.show(value, trailing=True)}
    capture_figures(limits, 0)  # no figure is open: pyplot's registry only
    _reset_peak_memory()
    report.update(duration_s=0.0, figures=[], figure_titles=[], peak_memory_bytes=_peak_memory())
    encode_frame(report)
    linecache.cache.pop("<warm-up>", None)


def _reset_peak_memory() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # reset VmHWM, the peak resident set size
    except OSError:
        pass


def _peak_memory() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _exception_names(exc: BaseException) -> list[str]:
    names = []
    for cls in type(exc).__mro__:
        names.append(cls.__name__)
        names.append(f"{cls.__module__}.{cls.__qualname__}")
    return names


def _short_path(filename: str, roots: list[str]) -> str:
    """``/srv/venv/lib/python3.11/site-packages/torch/nn/modules/conv.py`` -> ``torch/nn/modules/conv.py``:
    readers need the package path, not the server's interpreter, venv or checkout."""
    for root in roots:
        if filename.startswith(root):
            return filename[len(root) :]
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return filename


def _import_roots() -> list[str]:
    roots = {os.path.join(os.path.abspath(entry), "") for entry in sys.path if entry}
    roots.add(os.path.join(os.path.abspath(os.getcwd()), ""))
    return sorted(roots, key=len, reverse=True)  # the most specific root first


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the runner's own frames, library paths relative to sys.path."""
    runner_files = {__file__, ipython_shell.__file__}
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in runner_files:
        tb = tb.tb_next
    report = traceback.TracebackException(type(exc), exc, tb)
    roots = _import_roots()
    for each in _chained(report):
        # The runner's frames between the cell's (a %time running the code) are not the cell's.
        each.stack = traceback.StackSummary.from_list(
            [frame for frame in each.stack if frame.filename not in runner_files]
        )
        for frame in each.stack:
            frame.filename = _short_path(frame.filename, roots)
    return "".join(report.format())


def _shorten_warning_paths() -> None:
    """Warnings go to stderr, which readers see: name their files by package path too."""
    roots = _import_roots()
    original = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):
        return original(message, category, _short_path(filename, roots), lineno, line)

    warnings.formatwarning = formatwarning


def _chained(report: traceback.TracebackException):
    seen = set()
    while report is not None and id(report) not in seen:
        seen.add(id(report))
        yield report
        report = report.__cause__ or (None if report.__suppress_context__ else report.__context__)


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(hint in str(exc) for hint in _OUT_OF_MEMORY_HINTS)
    )


def execute(code: str, filename: str, namespace: dict, *, source: str | None = None) -> object:
    """Run ``code``; when it ends in an expression, return that expression's value.

    ``source``: the text tracebacks quote (the cell as written, when ``code`` is IPython's
    rewriting of it: the transformer keeps line numbers)."""
    shown = source if source is not None else code
    linecache.cache[filename] = (len(shown), None, shown.splitlines(True), filename)
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    # Running the author's code is this module's whole purpose; the sandbox contains it.
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102
    if last is not None:
        return eval(compile(last, filename, "eval"), namespace)  # noqa: S307
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def figure_title(figure) -> str:
    """What the figure's own titles say, for its default alt text and caption.

    The suptitle, then each visible panel's title (left, centre and right joined), distinct
    panels separated by "; ": "Loss; Accuracy", or "Training (Loss; Accuracy)" with a
    suptitle. "" when the figure has no title.
    """
    heading = _one_line(figure.get_suptitle())
    panels: list[str] = []
    for axes in figure.get_axes():
        if not axes.get_visible():
            continue
        title = " ".join(t for loc in ("left", "center", "right") if (t := _one_line(axes.get_title(loc))))
        if title and title not in panels:
            panels.append(title)
    joined = "; ".join(panels)
    text = f"{heading} ({joined})" if heading and joined else heading or joined
    if len(text) > FIGURE_TITLE_CHARS:
        text = text[: FIGURE_TITLE_CHARS - 1].rstrip() + "…"
    return text


def capture_figures(limits, taken_so_far: int) -> tuple[list[bytes], list[str], str | None]:
    """PNGs of the figures left open (then closed), their titles, and why some were refused."""
    import matplotlib.pyplot as plt

    numbers = plt.get_fignums()
    pngs: list[bytes] = []
    titles: list[str] = []
    refused = None
    if len(numbers) > limits.figures_per_cell:
        refused = f"{len(numbers)} figures left open (at most {limits.figures_per_cell} per cell)"
    for number in numbers[: limits.figures_per_cell]:
        if taken_so_far + len(pngs) >= limits.figures_per_answer:
            refused = f"more than {limits.figures_per_answer} figures in the answer"
            break
        figure = plt.figure(number)
        width, height = figure.get_size_inches()
        dpi = min(figure.dpi, math.sqrt(limits.figure_pixels / max(width * height, 1e-6)))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        if buffer.tell() > limits.figure_bytes:
            refused = f"a figure of {buffer.tell()} bytes (at most {limits.figure_bytes})"
            continue
        pngs.append(buffer.getvalue())
        try:
            titles.append(figure_title(figure))
        except Exception:  # noqa: BLE001 - a title is a nicety: the figure is shown without one
            titles.append("")
    plt.close("all")
    return pngs, titles, refused


def _cut(text: str, limit: int) -> str:
    """Head and tail of a long text (a traceback's last lines say the most)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - 2 * half} characters cut] ...\n{text[-half:]}"


def run_cell_code(code: str, filename: str, namespace: dict) -> object:
    """Run one cell as Jupyter does: IPython syntax, a trailing ``;`` hides the value."""

    def compile_and_run(python: str, name: str, names: dict) -> object:
        return execute(python, name, names, source=code if name == filename else None)

    return ipython_shell.run_code(code, filename, namespace, compile_and_run=compile_and_run)


class _CurrentDisplays:
    """``display`` and ``get_ipython()`` for the cells: they reach the running cell's Displays."""

    def __init__(self, namespace: dict, limits):
        self.limits = limits
        self.cell = Displays(limits)
        self.shell = ipython_shell.NotebookShell(namespace, self.display, execute)

    def display(self, *objects, **options) -> None:
        self.cell.display(*objects, **options)

    def next_cell(self) -> Displays:
        self.cell = Displays(self.limits)
        return self.cell


def _report(result_fd: int, ack_fd: int, report: dict) -> None:
    write_frame(result_fd, report)
    os.read(ack_fd, 1)  # the supervisor has read this cell's output: go on


class Session:
    """What run_cells sets up once per answer before the first cell: the namespace, display()
    and get_ipython(), the figure cap, the seed hooks and the seeded generators, the memory
    reserve. The standby child prepares it before its job arrives (child.py), so none of this
    lies on the answer's path; nothing between then and the first cell draws a random number
    (the random watch would report it). Made before the rlimits, its reserve is part of the
    RLIMIT_DATA baseline rather than of the cell's allowance (the RSS watch counts it either way)."""

    def __init__(self, limits):
        # Freed on MemoryError so the report itself can still be built and sent.
        self.reserve: bytearray | None = bytearray(1024 * 1024)
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        current = _CurrentDisplays(self.namespace, limits)
        self.namespace.update(display=current.display, get_ipython=lambda: current.shell)
        install_display(current.display)
        self.current = current
        self.figure_cap = FigureCap(limits.figures_per_cell).install()
        self.random_watch = seeds.RandomWatch()
        self.random_watch.seed(seeds.RUN_SEED)


def run_cells(
    *, cells: list[dict], result_fd: int, ack_fd: int, limits, has_cuda: bool, session: Session | None = None
) -> None:
    harness_pid = os.getpid()
    session = session or Session(limits)
    namespace, current = session.namespace, session.current
    figure_cap, random_watch = session.figure_cap, session.random_watch
    figures_taken = 0
    _shorten_warning_paths()
    for cell in cells:
        index = cell["index"]
        report: dict = {"t": "cell", "index": index}
        if cell["options"].get("device") == "cuda" and not has_cuda:
            report["skipped"] = "needs a CUDA device; this worker has none"
            _report(result_fd, ack_fd, report)
            continue
        if cell["options"].get("seed") == "fixed":
            random_watch.seed(seeds.FIXED_SEED)
        displays = current.next_cell()
        _reset_peak_memory()
        started = time.perf_counter()
        try:
            value = run_cell_code(cell["code"], f"<cell {index}>", namespace)
            if value is not None:
                report["repr"] = displays.show(value, trailing=True)
        except BaseException as exc:  # noqa: BLE001 - every exception is the cell's result
            if os.getpid() != harness_pid:
                os._exit(1)
            if _is_out_of_memory(exc):
                session.reserve = None
                namespace.clear()
                gc.collect()
                report["memory_error"] = _cut(f"{type(exc).__name__}: {exc}", MAX_MESSAGE_CHARS)
            report["exception"] = {
                "names": _exception_names(exc)[:MAX_EXCEPTION_NAMES],
                "line": _cut(traceback.format_exception_only(exc)[-1].strip(), limits.traceback_bytes),
                "traceback": _cut(_user_traceback(exc), limits.traceback_bytes),
            }
        if os.getpid() != harness_pid:
            # A process the cell forked fell back into the runner: it must never report.
            os._exit(0)
        report["duration_s"] = time.perf_counter() - started
        displays.flush_notes()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        if "memory_error" not in report:
            room = min(limits.figures_per_cell, limits.figures_per_answer - figures_taken)
            shown = displays.pngs[: max(0, room)]
            try:
                pngs, titles, refused = capture_figures(limits, figures_taken + len(shown))
            except Exception as exc:  # noqa: BLE001 - a broken figure is reported, not fatal
                pngs, titles, refused = [], [], f"figures could not be saved: {exc!r}"
            if len(shown) < len(displays.pngs):
                refused = refused or f"more than {limits.figures_per_cell} images in one cell"
            pngs = (shown + pngs)[: limits.figures_per_cell]
            titles = ([""] * len(shown) + titles)[: len(pngs)]
            figures_taken += len(pngs)
            report["figures"] = [base64.b64encode(png).decode() for png in pngs]
            report["figure_titles"] = titles
            refused = figure_cap.take_refusal() or refused
            if refused:
                report["figure_limit"] = refused
        if displays.items:
            report["displays"] = displays.items
        drawn = random_watch.unseeded_draws()
        if drawn:
            report["unseeded_random"] = drawn
        report["peak_memory_bytes"] = _peak_memory()
        _report(result_fd, ack_fd, report)
        if "memory_error" in report or "figure_limit" in report:
            break  # a limit ends the session; the supervisor marks the rest skipped
    write_frame(result_fd, {"t": "done"})
