from answers.cells import parse_answer


def test_python_run_blocks_are_cells_and_plain_python_is_not():
    parsed = parse_answer("Text\n\n```python\nprint('shown')\n```\n\n```python run\nx = 1\n```\n")
    assert [c.code for c in parsed.cells] == ["x = 1"]
    assert parsed.cells[0].line == 7
    assert parsed.errors == []


def test_output_block_right_after_a_cell_is_its_expected_output():
    parsed = parse_answer("```python run\n1 + 1\n```\n\n```output\n2\n```\n")
    assert parsed.cells[0].expected == "2"


def test_options_are_parsed():
    parsed = parse_answer(
        "```python run timeout=5 device=cuda raises=ValueError tol=1e-6 hide=true\nx\n```\n"
    )
    options = parsed.cells[0].options
    assert (options.timeout, options.device, options.raises, options.tol, options.hide) == (
        5.0,
        "cuda",
        "ValueError",
        1e-6,
        True,
    )
    assert parsed.needs_gpu


def test_unknown_option_is_an_error_with_its_line_number():
    parsed = parse_answer("Intro\n\n```python run colour=red\nx = 1\n```\n")
    assert len(parsed.errors) == 1
    assert parsed.errors[0].line == 3
    assert "unknown cell option 'colour'" in parsed.errors[0].message


def test_bad_option_values_are_errors():
    parsed = parse_answer("```python run timeout=-1 device=tpu tol=abc hide=maybe flag\nx\n```\n")
    messages = " | ".join(e.message for e in parsed.errors)
    for word in ("timeout", "device", "tol", "hide", "'flag' is not key=value"):
        assert word in messages


def test_unclosed_fence_and_orphan_output_are_reported():
    parsed = parse_answer("```output\n3\n```\n\n```python run\nx = 1\n")
    assert [(e.line, e.message) for e in parsed.errors] == [
        (1, "output block does not follow a `python run` cell"),
        (5, "code block is never closed"),
    ]


def test_cells_key_ignores_prose_and_changes_with_code():
    a = parse_answer("Some prose\n\n```python run\nx = 1\n```\n")
    b = parse_answer("Other prose entirely\n\n```python run\nx = 1\n```\n")
    c = parse_answer("Some prose\n\n```python run\nx = 2\n```\n")
    assert a.cells_key == b.cells_key != c.cells_key


def test_tilde_fences_and_longer_backtick_fences_nest_correctly():
    source = "````markdown\n```python run\nnot a cell\n```\n````\n\n~~~python run\ny = 2\n~~~\n"
    parsed = parse_answer(source)
    assert [c.code for c in parsed.cells] == ["y = 2"]


def test_alt_and_caption_are_quoted_texts_that_may_hold_spaces():
    parsed = parse_answer(
        '```python run alt="Two loss curves, train and test" caption="Loss by epoch" hide=true\nx\n```\n'
    )
    options = parsed.cells[0].options
    assert parsed.errors == []
    assert (options.alt, options.caption, options.hide) == (
        "Two loss curves, train and test",
        "Loss by epoch",
        True,
    )


def test_alt_and_caption_must_be_quoted_closed_and_not_empty():
    for option, complaint in (
        ("alt=bare", "expected a quoted text"),
        ('alt="never closed', "expected a quoted text"),
        ('caption=""', "the text is empty"),
        ('caption="' + "x" * 301 + '"', "at most 300 characters"),
    ):
        parsed = parse_answer(f"Intro\n\n```python run {option}\nx = 1\n```\n")
        assert len(parsed.errors) == 1, option
        assert parsed.errors[0].line == 3
        assert complaint in parsed.errors[0].message, option


def test_alt_and_caption_do_not_change_the_execution_key():
    plain = parse_answer("```python run\nx = 1\n```\n")
    described = parse_answer('```python run alt="A chart" caption="The chart"\nx = 1\n```\n')
    assert plain.cells_key == described.cells_key
