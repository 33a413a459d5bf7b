"""Jupyter's way of running a cell, as a documented subset of IPython, inside the sandbox.

Not IPython's InteractiveShell: it keeps a history database, installs hooks on sys and
builtins and wants a terminal or a kernel; it would cost every answer its start-up and put
state in the fork server's copy-on-write pages. Instead the child uses IPython's own parts
where they define what a notebook shows:

- IPython's input transformer turns magics into ``get_ipython().run_line_magic(...)`` calls,
  so a line is a magic exactly when Jupyter would run it as one;
- ``get_ipython()`` returns ``NotebookShell``, which runs the supported magics (the list the
  import checks, answers/ipython_lines.py) and refuses everything else with a clear error;
- IPython's DisplayFormatter formats the trailing value and every ``display()`` (its
  pretty-printer for text, the ``_repr_html_``/``_repr_markdown_``/``_repr_png_``/
  ``_repr_svg_`` reprs for the page);
- a trailing ``;`` suppresses the value, as IPython decides it (the cell's last token).

Pure of Django and of answers/ (the sandbox imports nothing of the web side).
"""

from __future__ import annotations

import io
import resource
import time
import timeit
import tokenize
from collections.abc import Callable

RICH_KINDS = ("text/html", "text/markdown", "image/svg+xml")
_SHELL_REFUSED = "shell commands cannot run here: cells run in a sandbox with no shell and no network"


class MagicRefused(RuntimeError):
    """A magic or shell line the sandbox cannot run (the import refuses these first)."""


_formatter = None


def formatter():
    """IPython's DisplayFormatter (text/plain through IPython's pretty-printer, width 79)."""
    global _formatter
    if _formatter is None:
        from IPython.core.formatters import DisplayFormatter

        _formatter = DisplayFormatter()
    return _formatter


def transform(code: str) -> str:
    """The cell as IPython turns it into Python; unchanged when it holds nothing IPython rewrites."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def ends_with_semicolon(code: str) -> bool:
    """IPython's rule: the value is not shown when the cell's last token is ``;``."""
    last = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type not in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENDMARKER,
            ):
                last = token
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


def run_code(code: str, filename: str, namespace: dict, *, compile_and_run: Callable) -> object:
    """Run ``code`` (IPython syntax); the trailing expression's value, or None."""
    value = compile_and_run(transform(code), filename, namespace)
    return None if ends_with_semicolon(code) else value


class NotebookShell:
    """What ``get_ipython()`` returns in a cell: the supported magics and a few harmless
    attributes code written for notebooks looks at; no shell, no kernel, no history."""

    def __init__(self, namespace: dict, show: Callable[[object], None], compile_and_run: Callable):
        self.user_ns = namespace
        self._show = show
        self._compile_and_run = compile_and_run
        self.config: dict = {}

    def __repr__(self) -> str:
        return "<NotebookShell: a sandboxed subset of IPython>"

    # -- magics --------------------------------------------------------------------------
    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1):
        if name == "matplotlib":
            if line.strip().lower() not in {"", "inline", "agg"}:
                raise MagicRefused(f"only `%matplotlib inline` works here, not {line.strip()!r}")
            return None  # figures are always captured (Agg): nothing to switch
        if name == "time":
            return self._time(line)
        if name == "timeit":
            return self._timeit(line, None)
        raise MagicRefused(f"the magic %{name} is not supported in this sandbox")

    def run_cell_magic(self, name: str, line: str, cell: str):
        if name == "time":
            return self._time(cell)
        if name == "timeit":
            return self._timeit(line, cell)
        raise MagicRefused(f"the cell magic %%{name} is not supported in this sandbox")

    def system(self, command: str):
        raise MagicRefused(_SHELL_REFUSED)

    getoutput = system

    def _time(self, code: str):
        """IPython's %time: run once, print CPU and wall time, return the value."""
        from IPython.core.magics.execution import _format_time

        started_cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        try:
            value = run_code(code, "<timed>", self.user_ns, compile_and_run=self._compile_and_run)
        finally:
            wall = time.perf_counter() - started
            ended_cpu = resource.getrusage(resource.RUSAGE_SELF)
            user = ended_cpu.ru_utime - started_cpu.ru_utime
            system = ended_cpu.ru_stime - started_cpu.ru_stime
            print(
                f"CPU times: user {_format_time(user)}, sys: {_format_time(system)}, "
                f"total: {_format_time(user + system)}"
            )
            print(f"Wall time: {_format_time(wall)}")
        return value

    def _timeit(self, line: str, cell: str | None):
        """IPython's %timeit (-n, -r, -q, -o, -p): best of repeats, printed as IPython does."""
        from IPython.core.magics.execution import TimeitResult

        options, statement = _timeit_options(line)
        setup = ""
        if cell is not None:
            setup, statement = statement, cell
        timer = timeit.Timer(
            stmt=transform(statement) or "pass", setup=transform(setup) or "pass", globals=self.user_ns
        )
        number = options["n"]
        if number == 0:
            for power in range(10):  # IPython's choice: total time of one repeat >= 0.2 s
                number = 10**power
                if timer.timeit(number) >= 0.2:
                    break
        runs = timer.repeat(options["r"], number)
        best, worst = min(runs) / number, max(runs) / number
        result = TimeitResult(number, options["r"], best, worst, runs, 0.0, options["p"])
        if not options["q"]:
            if worst > 4 * best and best > 0 and worst > 1e-6:
                print(
                    f"The slowest run took {worst / best:0.2f} times longer than the fastest. "
                    "This could mean that an intermediate result is being cached."
                )
            print(result)
        return result if options["o"] else None


def _timeit_options(line: str) -> tuple[dict, str]:
    options = {"n": 0, "r": 7, "q": False, "o": False, "p": 3}
    words = line.split(" ")
    while words and words[0].startswith("-") and len(words[0]) > 1:
        flag = words.pop(0)
        if flag in {"-q", "-o"}:
            options[flag[1]] = True
        elif flag[:2] in {"-n", "-r", "-p"}:
            value = flag[2:] or (words.pop(0) if words else "")
            try:
                options[flag[1]] = int(value)
            except ValueError:
                raise MagicRefused(f"%timeit {flag[:2]} needs a number, not {value!r}") from None
        elif flag in {"-t", "-c"}:
            continue  # the timer is always time.perf_counter
        else:
            raise MagicRefused(f"%timeit does not take {flag}")
        while words and not words[0]:
            words.pop(0)
    if options["r"] < 1:
        raise MagicRefused("%timeit -r must be at least 1")
    return options, " ".join(words)


def mime_bundle(value: object) -> dict:
    """IPython's formatted representations of ``value`` ({"text/plain": ..., "text/html": ...})."""
    data, _metadata = formatter().format(value)
    return data


def pretty_text(value: object, limit: int) -> str:
    """IPython's text/plain of ``value``, cut at ``limit`` characters."""
    from IPython.lib.pretty import pretty

    text = pretty(value, max_width=79, max_seq_length=1000)
    if len(text) > limit:
        text = text[:limit] + f"... [repr truncated at {limit} characters]"
    return text
