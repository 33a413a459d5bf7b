"""Which IPython lines a cell may hold: the magics the sandboxed runner supports, and why the
others (shell lines, help, magics that need a terminal, a network or the host) are refused.

Cells are read with IPython's own input transformer, so a line counts as a magic exactly when
Jupyter would run it as one (``%`` inside a string or after code is Python, not a magic). The
runner (runner/engine/ipython_shell.py) executes the transformed code; this module only
decides, before any run, what it must refuse, so an import and the editor say which cell and
line and why rather than the run failing with a SyntaxError.
"""

from __future__ import annotations

import ast
from functools import lru_cache

# `%matplotlib inline` is a no-op (figures are always captured under Agg); `%time`, `%timeit`
# and their cell forms time the code as IPython does (their timing lines are never compared).
SUPPORTED_LINE_MAGICS = frozenset({"matplotlib", "time", "timeit"})
SUPPORTED_CELL_MAGICS = frozenset({"time", "timeit"})
SUPPORTED_MAGICS = frozenset({f"%{name}" for name in SUPPORTED_LINE_MAGICS}) | frozenset(
    {f"%%{name}" for name in SUPPORTED_CELL_MAGICS}
)
MATPLOTLIB_BACKENDS = frozenset({"", "inline", "agg"})

_SHELL = "shell commands cannot run here: cells run in a sandbox with no shell and no network"
_INSTALL = "packages cannot be installed from a cell: the worker's environment is fixed"
_HELP = "help lines (`?`, `??`) only work in an interactive session"
_REASONS = {
    "pip": _INSTALL,
    "conda": _INSTALL,
    "mamba": _INSTALL,
    "micromamba": _INSTALL,
    "uv": _INSTALL,
    "pinfo": _HELP,
    "pinfo2": _HELP,
    "psearch": _HELP,
    "sx": _SHELL,
    "system": _SHELL,
    "sc": _SHELL,
    "cd": "the working directory is fixed: read files by their relative path",
}
_CELL_REASONS = {
    "bash": _SHELL,
    "sh": _SHELL,
    "script": _SHELL,
    "system": _SHELL,
    "html": "write HTML output with display(HTML(...)) in Python instead",
    "javascript": "JavaScript cannot run on the page (strict CSP)",
    "js": "JavaScript cannot run on the page (strict CSP)",
}
_SHELL_CALLS = {"system", "getoutput"}


def _supported_list() -> str:
    return ", ".join(sorted(SUPPORTED_MAGICS))


def _magic_reason(name: str, args: str, *, cell: bool) -> str | None:
    """Why ``%name args`` (``%%name`` when ``cell``) is refused; None when it is supported."""
    if cell:
        if name in SUPPORTED_CELL_MAGICS:
            return None
        reason = _CELL_REASONS.get(name) or _REASONS.get(name)
        return reason or f"the cell magic %%{name} is not supported (supported: {_supported_list()})"
    if name.startswith("%"):
        return f"a cell magic (%{name}) must be the first line of its cell"
    if name == "matplotlib":
        backend = args.strip().lower()
        if backend in MATPLOTLIB_BACKENDS:
            return None
        return f"only `%matplotlib inline` works here (figures are captured as images), not {backend!r}"
    if name in SUPPORTED_LINE_MAGICS:
        return None
    return _REASONS.get(name) or f"the magic %{name} is not supported (supported: {_supported_list()})"


@lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def transform_cell(code: str) -> str:
    """The cell as IPython turns it into Python (magics become ``get_ipython()`` calls)."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code  # nothing IPython would rewrite: skip the transformer's cost
    return _transformer().transform_cell(code)


def _ipython_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """('run_line_magic', ['time', 'f(1)']) for ``get_ipython().run_line_magic('time', 'f(1)')``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)):
        return None
    if owner.func.id != "get_ipython":
        return None
    args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return node.func.attr, args


def ipython_lines_refused(code: str) -> list[tuple[int, str, str]]:
    """(line number in the cell, 1-based; the line as written; why) for each IPython line the
    runner cannot run: shell lines (``!cmd``, ``x = !cmd``), help (``x?``) and unsupported
    magics. In a cell that is not valid Python even after IPython's rewriting, each line is
    read on its own (the cell then also fails with its SyntaxError, as in Jupyter)."""
    return _refused(code, offset=0)


def _refused(code: str, *, offset: int) -> list[tuple[int, str, str]]:
    if "%" not in code and "!" not in code and "?" not in code and "get_ipython" not in code:
        return []
    transformed = transform_cell(code)
    lines = code.splitlines()
    try:
        tree = ast.parse(transformed)
    except SyntaxError:
        return _refused_line_by_line(lines, offset=offset)
    return _refused_tree(tree, lines, offset=offset)


def _refused_tree(tree: ast.AST, lines: list[str], *, offset: int) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        call = _ipython_call(node)
        if call is None:
            continue
        kind, args = call
        line_no = min(node.lineno, len(lines)) if lines else 1
        text = lines[line_no - 1].strip() if lines else ""
        if kind in _SHELL_CALLS:
            found.append((offset + line_no, text, _SHELL))
        elif kind == "run_line_magic" and args:
            reason = _magic_reason(args[0], args[1] if len(args) > 1 else "", cell=False)
            if reason:
                found.append((offset + line_no, text, reason))
        elif kind == "run_cell_magic" and args:
            reason = _magic_reason(args[0], args[1] if len(args) > 1 else "", cell=True)
            if reason:
                found.append((offset + 1, lines[0].strip() if lines else "", reason))
            elif len(args) > 2:
                found.extend(_refused(args[2], offset=offset + 1))
        else:
            found.append((offset + line_no, text, f"get_ipython().{kind}() is not available here"))
    return sorted(set(found))


def _refused_line_by_line(lines: list[str], *, offset: int) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            tree = ast.parse(transform_cell(stripped + "\n"))
        except SyntaxError:
            continue
        for _line, _text, reason in _refused_tree(tree, [stripped], offset=0):
            if number > 1 and stripped.startswith("%%"):
                reason = f"a cell magic ({stripped.split()[0]}) must be the first line of its cell"
            found.append((offset + number, stripped, reason))
    return found
