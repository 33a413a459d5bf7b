"""When a cell's run differs from its expected output, the one change that would absorb it.

Pure: no Django. The review of an imported notebook (and any page that shows a mismatch) asks
``suggest`` for each cell and offers the suggestion as one button; ``apply_suggestion`` writes
it into the answer's Markdown.

- ``ellipsis``: the texts differ only in memory addresses (``0x7f3a...``), object ids (long
  integers) or IPython's ``<X at 0x..>`` against Python's ``<X object at 0x..>``: the expected
  text gets ``...`` in their place.
- ``tol``: the texts differ only in numbers that agree to a relative tolerance of at most 1e-3
  (floats differing in their last digits): the cell gets the smallest ``tol=`` that passes.
- ``nondeterministic``: the two runs of the cell disagreed, or the cell draws random numbers
  and its texts differ only in numbers: the cell gets ``nondeterministic=true``, and for the
  latter its expected output (numbers Jupyter drew unseeded, that no run will draw again) goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.engine.compare import NUMBER_RE, matches

from .cells import markdown_lines, parse_answer, scan_fences, split_options

TOLERANCES = (1e-12, 1e-9, 1e-6, 1e-4, 1e-3)
# IPython writes "<Line2D at 0x7f..>", Python "<Line2D object at 0x55..>": both become "...".
_ADDRESS = re.compile(r"(?:\s+object)?\s+at\s+0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}|(?<![\w.])\d{10,}(?![\w.])")
_RANDOM = re.compile(r"\brandom\b|\brand(?:n|int|om_sample|perm)?\(|\bshuffle\(|\bnormal\(|\buniform\(")


@dataclass(frozen=True)
class Suggestion:
    kind: str  # ellipsis, tol, nondeterministic
    label: str  # what the button says
    reason: str  # why, in one sentence
    expected: str | None = None  # the new expected text (ellipsis); None keeps it
    option: str | None = None  # the option word to add (tol=1e-6, nondeterministic=true)
    drop_expected: bool = False

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "reason": self.reason,
            "expected": self.expected,
            "option": self.option,
            "drop_expected": self.drop_expected,
        }


def _masked_addresses(expected: str) -> str:
    return _ADDRESS.sub(" ...", expected)


def suggest(
    *, status: str, expected: str | None, output: str, code: str, tol: float | None
) -> Suggestion | None:
    """The change that would make this cell pass, when the cause is addresses, float digits or
    random numbers; None when the difference is real (or the cell passed)."""
    if status == "nondeterministic":
        if (
            expected is not None
            and not matches(expected, output, tol=tol)
            and _only_numbers_differ(expected, output)
        ):
            return _drop_random()
        return Suggestion(
            "nondeterministic",
            "Add nondeterministic=true",
            "The two runs of this cell gave different output; if that is expected, say so.",
            option="nondeterministic=true",
        )
    if status != "mismatch" or expected is None:
        return None
    masked = _masked_addresses(expected)
    if masked != expected and matches(masked, output, tol=tol):
        return Suggestion(
            "ellipsis",
            "Write ... for the addresses",
            "The outputs differ only in memory addresses or object ids, which change on every run.",
            expected=masked,
        )
    for candidate in TOLERANCES:
        if tol is not None and candidate <= tol:
            continue
        if matches(expected, output, tol=candidate):
            return Suggestion(
                "tol",
                f"Add tol={candidate:g}",
                f"The numbers differ only in their last digits (within a relative {candidate:g}).",
                option=f"tol={candidate:g}",
            )
    if _RANDOM.search(code) and _only_numbers_differ(expected, output):
        return _drop_random()
    return None


def _only_numbers_differ(expected: str, output: str) -> bool:
    return matches(NUMBER_RE.sub("...", expected), output)


def _drop_random() -> Suggestion:
    return Suggestion(
        "nondeterministic",
        "Add nondeterministic=true and drop the stored output",
        "The cell draws random numbers: the stored output holds numbers drawn unseeded, and only "
        "the numbers differ.",
        option="nondeterministic=true",
        drop_expected=True,
    )


class SuggestionError(ValueError):
    """The suggestion no longer fits the answer (it changed since); the message says why."""


def apply_suggestion(body: str, *, cell_index: int, suggestion: Suggestion) -> str:
    """``body`` with the suggestion written into cell ``cell_index`` (its fence's options and
    its output block); every other line kept as it was."""
    parsed = parse_answer(body)
    if not 0 <= cell_index < len(parsed.cells):
        raise SuggestionError(f"The answer has no cell {cell_index + 1}.")
    cell = parsed.cells[cell_index]
    lines = markdown_lines(body)
    start, end = cell.span
    fences = scan_fences(lines[start:end])
    code_fence, output_fence = fences[0], (fences[1] if len(fences) > 1 else None)
    if suggestion.option:
        lines[start] = _with_option(lines[start], suggestion.option)
    if output_fence is not None and (suggestion.drop_expected or suggestion.expected is not None):
        first, last = start + output_fence.start, start + output_fence.end
        if suggestion.drop_expected:
            lines[start + code_fence.end + 1 : last + 1] = []
        else:
            fence = _fence_for(suggestion.expected, re.match(r"`+|~+", lines[first].strip()).group())
            lines[first : last + 1] = [f"{fence}output", *markdown_lines(suggestion.expected), fence]
    return "\n".join(lines) + "\n"


def _with_option(fence_line: str, option: str) -> str:
    """The fence line with ``key=value`` set (replacing that key if it is there)."""
    key = option.split("=", 1)[0]
    match = re.match(r"^(\s*`{3,}|\s*~{3,})\s*python\s+run(.*)$", fence_line)
    if match is None:
        raise SuggestionError("The cell's opening line changed; reload the review.")
    words = [w for w in split_options(match[2]) if w.split("=", 1)[0] != key]
    return f"{match[1]}python run " + " ".join([*words, option])


def with_expected_output(body: str, *, cell_index: int, output: str) -> str:
    """``body`` with cell ``cell_index``'s expected output set to ``output`` (the editor's "Use
    as expected output"): its ``output`` block replaced, or one written right after the cell."""
    parsed = parse_answer(body)
    if not 0 <= cell_index < len(parsed.cells):
        raise SuggestionError(f"The answer has no cell {cell_index + 1}.")
    text = output.rstrip("\n")
    if not text.strip():
        raise SuggestionError("The cell printed nothing, so there is no output to use as expected output.")
    start, end = parsed.cells[cell_index].span
    lines = markdown_lines(body)
    fences = scan_fences(lines[start:end])
    code_fence = fences[0]
    fence = _fence_for(text, "```")
    block = [f"{fence}output", *markdown_lines(text), fence]
    if len(fences) > 1:
        lines[start + fences[1].start : start + fences[1].end + 1] = block
    else:
        lines[start + code_fence.end + 1 : start + code_fence.end + 1] = ["", *block]
    return "\n".join(lines) + "\n"


def _fence_for(text: str, fence: str) -> str:
    """``fence``, lengthened past the longest run of its character that opens a line of ``text``."""
    if fence[0] != "`":
        return fence
    longest = max((len(m) for m in re.findall(r"^[ \t]*(`+)", text, re.M)), default=0)
    return "`" * (longest + 1) if longest >= len(fence) else fence
