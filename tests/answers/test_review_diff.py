"""The review page's diffs as plain data: readable prose, cells paired in order, code lines."""

from answers.review_diff import cell_pairs, prose_diff, prose_paragraphs

OLD = """## Pooling

Max pooling keeps the largest value.

```python run
x = 1
print(x)
```

```output
1
```

Unchanged closing words.
"""
NEW = """## Pooling

Max pooling keeps the largest value in each window.

A new paragraph.

```python run
x = 2
print(x)
```

```python run
y = 3
```

Unchanged closing words.
"""


def _text(block):
    return "".join(f"[{s.op}:{s.text}]" if s.op != "same" else s.text for s in block.segments)


def test_prose_leaves_cells_and_their_outputs_out():
    assert prose_paragraphs(OLD) == [
        "## Pooling",
        "Max pooling keeps the largest value.",
        "Unchanged closing words.",
    ]


def test_prose_is_compared_paragraph_by_paragraph_then_word_by_word():
    blocks = prose_diff(OLD, NEW)
    assert [(b.op, _text(b)) for b in blocks] == [
        ("same", "## Pooling"),
        ("changed", "Max pooling keeps the largest [removed:value.][added:value in each window.]"),
        ("added", "[added:A new paragraph.]"),
        ("same", "Unchanged closing words."),
    ]
    removed = prose_diff(NEW, OLD)
    assert ("added", "[removed:A new paragraph.]") not in [(b.op, _text(b)) for b in removed]
    assert ("removed", "[removed:A new paragraph.]") in [(b.op, _text(b)) for b in removed]


def test_cells_pair_in_order_with_a_line_diff_and_new_or_removed_cells_alone():
    pairs = cell_pairs(OLD, NEW)
    assert [(p.old_index, p.new_index, p.label) for p in pairs] == [
        (0, 0, "Cell 1"),
        (None, 1, "Cell 2 (new)"),
    ]
    assert [(line.op, line.text) for line in pairs[0].lines] == [
        ("removed", "x = 1"),
        ("added", "x = 2"),
        ("same", "print(x)"),
    ]
    back = cell_pairs(NEW, OLD)
    assert [p.label for p in back] == ["Cell 1", "Cell 2 (removed)"]
    assert not cell_pairs(NEW, NEW)[1].code_changed


def test_an_unchanged_cell_after_an_inserted_one_keeps_its_pairing():
    one = "```python run\na = 1\n```\n"
    two = "```python run\nb = 0\n```\n\n```python run\na = 1\n```\n"
    assert [(p.old_index, p.new_index, p.label) for p in cell_pairs(one, two)] == [
        (None, 0, "Cell 1 (new)"),
        (0, 1, "Cell 2 (was cell 1)"),
    ]
