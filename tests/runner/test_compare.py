"""Expected-output comparison (pure: no database, no processes)."""

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from runner.engine.compare import matches, normalise

# Text without the ellipsis character, so `...` in a test is always the wildcard, and without a
# lone carriage return, which overwrites its line in an actual output (tested on its own below).
words = st.text(alphabet=st.characters(blacklist_characters=".\r", blacklist_categories=("Cs",)), max_size=40)
whitespace = st.text(alphabet=" \t\n", min_size=1, max_size=5).map(lambda w: w.replace("\n", "\r\n", 1))


@given(st.text())
def test_normalise_is_idempotent_and_canonical(text):
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert not re.search(r"\s\s|[\t\n\r]", once)


@given(st.text())
def test_every_text_matches_itself(text):
    assert matches(text, text)


@given(st.lists(st.text(alphabet="abc123()[],=", min_size=1, max_size=8), min_size=1, max_size=6), st.data())
def test_any_whitespace_runs_and_trailing_whitespace_are_ignored(tokens, data):
    expected = " ".join(tokens)
    actual = "".join(token + data.draw(whitespace) for token in tokens) + data.draw(whitespace)
    assert matches(expected, actual)


@given(words, words, words)
def test_ellipsis_matches_any_middle(prefix, middle, suffix):
    assert matches(prefix + "..." + suffix, prefix + middle + suffix)


@given(words, words)
def test_text_without_ellipsis_needs_equality(expected, actual):
    assume(normalise(expected) != normalise(actual))
    assert not matches(expected, actual)


@given(words, words, words)
def test_ellipsis_keeps_prefix_and_suffix_strict(prefix, middle, suffix):
    assume(normalise(prefix) and not normalise(middle + suffix).startswith(normalise(prefix)))
    assert not matches(prefix + "..." + suffix, middle + suffix)


def test_a_carriage_return_in_the_actual_output_overwrites_its_line_as_in_a_terminal():
    assert matches("100%", "\r10%\r50%\r100%\n")
    assert matches("Epoch 2 done", "Epoch 1\rEpoch 2\ndone")
    assert not matches("10% 50% 100%", "10%\r50%\r100%")
    assert matches("a\nb", "a\r\nb")  # Windows line ends are line ends


def test_ellipsis_examples():
    assert matches("tensor([...])", "tensor([0.1, 0.2, 0.3])")
    assert matches("Epoch 1 ... done", "Epoch 1 loss=0.3\nEpoch 2 loss=0.1\ndone")
    assert matches("a ...", "a")
    assert matches("...", "")
    assert not matches("a ... c", "a b d")
    assert matches("x = ... y = ... z", "x = 1 y = 2 z")
    assert not matches("1 ... 3 ... 5", "1 5 3")


def test_regex_characters_are_literal():
    assert matches("a+b (c)* [d]? $1 ^x \\d", "a+b (c)* [d]? $1 ^x \\d")
    assert not matches("a.b", "axb")


def test_tol_compares_numbers_inside_text():
    assert matches("tensor(0.3333)", "tensor(0.33333334)", tol=1e-3)
    assert not matches("tensor(0.3333)", "tensor(0.33333334)")
    assert not matches("tensor(0.3333)", "tensor(0.34)", tol=1e-3)
    assert matches("loss: 1.0e-3, acc 0.95", "loss: 0.0010001, acc 0.9500001", tol=1e-3)
    assert matches("[-1.5, 2]", "[-1.5000001, 2.0]", tol=1e-6)
    assert not matches("[-1.5, 2]", "[1.5, 2.0]", tol=1e-6)
    assert matches("conv1 ... 448", "conv1 weights: 432 total 448.0001", tol=1e-5)


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-3),
    st.floats(min_value=-0.49, max_value=0.49),
)
def test_tol_accepts_numbers_within_the_relative_tolerance(value, fraction):
    tol = 1e-4
    near = value * (1 + fraction * tol)
    assert matches(f"value: {value!r} units", f"value: {near!r} units", tol=tol)


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-3),
    st.floats(min_value=3, max_value=100),
)
def test_tol_refuses_numbers_outside_the_relative_tolerance(value, factor):
    tol = 1e-4
    far = value * (1 + factor * tol)
    assert not matches(f"value: {value!r} units", f"value: {far!r} units", tol=tol)


def test_long_output_with_many_ellipses_is_fast():
    import time

    started = time.perf_counter()
    assert not matches("a ... b ... c ... d ... e ... z", "a " + "b " * 200_000, tol=1e-6)
    assert not matches("a ... b ... c ... d ... e ... z", "a " + "b " * 200_000)
    assert time.perf_counter() - started < 2


def test_a_nul_in_the_output_matches_the_replacement_character_the_page_shows():
    # NUL is stored and shown as U+FFFD; expected text copied from the page matches.
    assert matches("a\ufffdb", "a\x00b\n") and not matches("ab", "a\x00b")
