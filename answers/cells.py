"""Extract runnable cells from an answer's Markdown.

Pure functions, no ORM: the contract is in shared/DESIGN.md ("Contract: runnable cells in
Markdown"). A fenced block whose info string is ``python run [key=value ...]`` is a cell;
an ``output`` block right after it is that cell's expected output. Anything malformed is an
``AuthoringError`` with its line number, never a silent skip.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from answers.ipython_lines import ipython_lines_refused

DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 600.0
MAX_TEXT_OPTION = 300

# Markdown's line endings (CommonMark: \n, \r\n, \r). Not str.splitlines(), which also breaks
# at \x0b, \x0c, \x1c-\x1e, \x85, U+2028 and U+2029: a code cell holding one of those (in a
# string literal, say) would come back as two lines, and python-markdown does not break there.
_LINE_END = re.compile(r"\r\n|\r|\n")


def markdown_lines(text: str) -> list[str]:
    """The lines of ``text`` as Markdown reads them (like splitlines(), without the extras)."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class AuthoringError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class CellOptions:
    timeout: float = DEFAULT_TIMEOUT_S
    device: str = "cpu"
    raises: str | None = None
    tol: float | None = None
    hide: bool = False
    figtol: float | None = None  # tolerance of the figure comparison (None: default)
    nondeterministic: bool = False  # two runs may differ; only `expected` is checked
    # "fixed": random, NumPy and torch are seeded with 0 right before this cell in both runs of
    # the double run (the second run otherwise starts from other seeds, to catch unseeded draws).
    seed: str | None = None
    # Presentation only (the figure's alt text and caption): left out of as_dict, so editing
    # them is a prose edit that keeps the execution key and re-runs nothing.
    alt: str | None = None
    caption: str | None = None

    def as_dict(self) -> dict:
        return {
            "timeout": self.timeout,
            "device": self.device,
            "raises": self.raises,
            "tol": self.tol,
            "hide": self.hide,
            "figtol": self.figtol,
            "nondeterministic": self.nondeterministic,
            # Only when given: every other answer keeps its execution key.
            **({"seed": self.seed} if self.seed is not None else {}),
        }


@dataclass(frozen=True)
class Cell:
    index: int
    line: int  # 1-based line of the opening fence in the Markdown source
    code: str
    options: CellOptions = field(default_factory=CellOptions)
    expected: str | None = None
    # Source line span [start, end) covering the cell and its output block, 0-based.
    span: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class ParsedAnswer:
    cells: list[Cell]
    errors: list[AuthoringError]

    @property
    def cells_key(self) -> str:
        """Hash of the ordered cells' code and options (the fingerprint is added by runner)."""
        payload = [[c.code, c.options.as_dict(), c.expected] for c in self.cells]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @property
    def needs_gpu(self) -> bool:
        return any(c.options.device == "cuda" for c in self.cells)


@dataclass
class _Fence:
    start: int  # 0-based line index of the opening fence
    end: int  # 0-based index of the closing fence (or len(lines) when unclosed)
    info: str
    body: str
    closed: bool


def _parse_bool(value: str) -> bool:
    if value.lower() in {"true", "yes", "1"}:
        return True
    if value.lower() in {"false", "no", "0"}:
        return False
    raise ValueError("expected true or false")


def _parse_timeout(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise ValueError(f"must be between 0 and {MAX_TIMEOUT_S:g} seconds")
    return seconds


def _parse_device(value: str) -> str:
    if value not in {"cpu", "cuda"}:
        raise ValueError("expected cpu or cuda")
    return value


def _parse_raises(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value):
        raise ValueError("expected an exception name such as ValueError")
    return value


def _parse_tol(value: str) -> float:
    tol = float(value)
    if not 0 <= tol < 1:
        raise ValueError("expected a relative tolerance such as 1e-6")
    return tol


def _parse_figtol(value: str) -> float:
    # The worst-region RMS on the 0-255 scale (runner/engine/figures.py): 255 accepts anything.
    figtol = float(value)
    if not 0 <= figtol <= 255:
        raise ValueError("expected a figure tolerance between 0 and 255 (default 8)")
    return figtol


def _parse_seed(value: str) -> str:
    if value != "fixed":
        raise ValueError("expected fixed (seed the generators yourself for any other seed)")
    return value


def _parse_text(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"' or '"' in value[1:-1]:
        raise ValueError('expected a quoted text such as "A line chart of the loss"')
    text = value[1:-1].strip()
    if not text:
        raise ValueError("the text is empty")
    if len(text) > MAX_TEXT_OPTION:
        raise ValueError(f"at most {MAX_TEXT_OPTION} characters")
    return text


_OPTION_PARSERS = {
    "timeout": _parse_timeout,
    "device": _parse_device,
    "raises": _parse_raises,
    "tol": _parse_tol,
    "hide": _parse_bool,
    "figtol": _parse_figtol,
    "nondeterministic": _parse_bool,
    "seed": _parse_seed,
    "alt": _parse_text,
    "caption": _parse_text,
}

# The option names the parser accepts (the editor completes these as the author types).
CELL_OPTION_NAMES = tuple(sorted(_OPTION_PARSERS))

# key=value words; a value may be double-quoted and then hold spaces (alt="A loss curve").
_OPTION_WORD = re.compile(r'[^\s=]+=(?:"[^"]*"?|\S*)|\S+')


def split_options(info_rest: str) -> list[str]:
    return _OPTION_WORD.findall(info_rest)


def parse_options(words: list[str], line: int) -> tuple[CellOptions, list[AuthoringError]]:
    values: dict = {}
    errors: list[AuthoringError] = []
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not raw:
            errors.append(AuthoringError(line, f"option {word!r} is not key=value"))
        elif key not in _OPTION_PARSERS:
            known = ", ".join(sorted(_OPTION_PARSERS))
            errors.append(AuthoringError(line, f"unknown cell option {key!r} (known: {known})"))
        elif key in values:
            errors.append(AuthoringError(line, f"option {key!r} given twice"))
        else:
            try:
                values[key] = _OPTION_PARSERS[key](raw)
            except ValueError as exc:
                errors.append(AuthoringError(line, f"bad value for {key}: {raw!r} ({exc})"))
    return CellOptions(**values), errors


def scan_fences(lines: list[str]) -> list[_Fence]:
    """Find fenced code blocks the way CommonMark does (``` or ~~~, closing at least as long)."""
    fences: list[_Fence] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence = match["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        body = "\n".join(lines[i + 1 : j])
        fences.append(_Fence(i, j, match["info"].strip(), body, closed=j < len(lines)))
        i = j + 1
    return fences


def _is_cell(info: str) -> bool:
    words = info.split()
    return len(words) >= 2 and words[0] == "python" and words[1] == "run"


def _only_blank_between(lines: list[str], start: int, end: int) -> bool:
    return all(not line.strip() for line in lines[start:end])


def parse_answer(markdown: str) -> ParsedAnswer:
    lines = markdown_lines(markdown)
    fences = scan_fences(lines)
    cells: list[Cell] = []
    errors: list[AuthoringError] = []
    used_as_expected: set[int] = set()

    for position, fence in enumerate(fences):
        line_no = fence.start + 1
        if position in used_as_expected:
            continue
        if not fence.closed:
            errors.append(AuthoringError(line_no, "code block is never closed"))
            continue
        words = fence.info.split()
        if words[:1] == ["output"] and not _is_cell(fence.info):
            errors.append(AuthoringError(line_no, "output block does not follow a `python run` cell"))
            continue
        if not _is_cell(fence.info):
            if words[:1] == ["python"] and any("=" in w for w in words[1:]):
                errors.append(AuthoringError(line_no, "cell options need `python run` (missing `run`)"))
            continue
        after_run = fence.info.split(None, 2)[2] if len(words) > 2 else ""
        options, option_errors = parse_options(split_options(after_run), line_no)
        errors.extend(option_errors)
        if not fence.body.strip():
            errors.append(AuthoringError(line_no, "runnable cell is empty"))
        for cell_line, text, reason in ipython_lines_refused(fence.body):
            where = f"cell {len(cells) + 1}, line {cell_line}"
            errors.append(AuthoringError(line_no + cell_line, f"{where}: `{text}` cannot run: {reason}"))
        expected = None
        span_end = fence.end + 1
        following = fences[position + 1] if position + 1 < len(fences) else None
        if (
            following is not None
            and following.info.split()[:1] == ["output"]
            and _only_blank_between(lines, fence.end + 1, following.start)
        ):
            used_as_expected.add(position + 1)
            if not following.closed:
                errors.append(AuthoringError(following.start + 1, "output block is never closed"))
            if len(following.info.split()) > 1:
                errors.append(AuthoringError(following.start + 1, "output block takes no options"))
            expected = following.body
            span_end = following.end + 1
        cells.append(
            Cell(
                index=len(cells),
                line=line_no,
                code=fence.body,
                options=options,
                expected=expected,
                span=(fence.start, span_end),
            )
        )
    errors.sort(key=lambda e: e.line)
    return ParsedAnswer(cells=cells, errors=errors)
