"""docs/authoring.md is the authors' reference: it must name every cell option the parser
accepts and every status a cell can end in, so adding one without documenting it fails here."""

import dataclasses
import re
from pathlib import Path

from answers.cells import CellOptions, parse_answer, parse_options
from runner.engine.protocol import CellStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "authoring.md"


def _accepted_options() -> set[str]:
    # The parser names what it accepts when it refuses an unknown option.
    _, errors = parse_options(["no-such-option=1"], line=1)
    known = re.search(r"\(known: (.*)\)", errors[0].message)
    return set(known.group(1).split(", ")) | {f.name for f in dataclasses.fields(CellOptions)}


def _options_table_rows() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)=` \|", DOC.read_text(), re.MULTILINE))


def _status_table_rows() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), re.MULTILINE))


def test_every_option_the_parser_accepts_has_a_row_in_the_options_table():
    accepted = _accepted_options()
    assert {"timeout", "device", "raises", "tol", "hide"} <= accepted
    assert accepted <= _options_table_rows(), f"undocumented: {accepted - _options_table_rows()}"


def test_every_cell_status_has_a_row_in_the_status_table():
    statuses = {str(status) for status in CellStatus}
    assert statuses <= _status_table_rows(), f"undocumented: {statuses - _status_table_rows()}"


def test_the_design_contracts_options_and_statuses_are_all_documented():
    # Also those other work adds (figures, the double run), so the reference is complete today.
    assert {"figtol", "nondeterministic", "alt", "caption"} <= _options_table_rows()
    assert {"figure_mismatch", "nondeterministic"} <= _status_table_rows()


def test_the_examples_that_use_only_current_options_parse_without_authoring_errors():
    text = DOC.read_text()
    examples = re.findall(r"^````markdown\n(.*?)^````", text, re.MULTILINE | re.DOTALL)
    accepted = _accepted_options()
    checked = 0
    for example in examples:
        used = set(re.findall(r"\b([a-z_]+)=", " ".join(re.findall(r"^```python run(.*)$", example, re.M))))
        if used <= accepted:
            parsed = parse_answer(example)
            assert parsed.errors == [] and parsed.cells, example
            checked += 1
    assert checked >= 3
