""" "Use as expected output": the run's output written into the draft's Markdown as an
``output`` block, replacing the cell's own or right after the cell, every other line kept."""

import pytest

from answers.cells import parse_answer
from answers.output_suggestions import SuggestionError, with_expected_output

BODY = """Intro.

```python run
print(1)
```

Between.

```python run timeout=5
print(2)
```

```output
old
```

The end.
"""


def test_a_cell_without_an_output_block_gets_one_right_after_it():
    written = with_expected_output(BODY, cell_index=0, output="1\n")
    cells = parse_answer(written).cells
    assert [c.expected for c in cells] == ["1", "old"]
    assert "Intro.\n\n```python run\nprint(1)\n```\n\n```output\n1\n```\n\nBetween." in written
    assert written.endswith("The end.\n")


def test_an_existing_output_block_is_replaced_and_the_rest_kept():
    written = with_expected_output(BODY, cell_index=1, output="2\nand more\n")
    assert parse_answer(written).cells[1].expected == "2\nand more"
    assert parse_answer(written).cells[1].options.timeout == 5
    assert "old" not in written
    assert written.replace("2\nand more", "old") == BODY


def test_output_holding_a_fence_gets_a_longer_fence():
    output = "```\ninside\n```"
    written = with_expected_output(BODY, cell_index=0, output=output)
    assert parse_answer(written).cells[0].expected == output
    assert "````output" in written and not parse_answer(written).errors


@pytest.mark.parametrize(("index", "output", "why"), [(2, "x", "no cell 3"), (0, "\n\n", "printed nothing")])
def test_what_cannot_be_written_says_why(index, output, why):
    with pytest.raises(SuggestionError, match=why):
        with_expected_output(BODY, cell_index=index, output=output)
