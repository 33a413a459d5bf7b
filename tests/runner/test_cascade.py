"""Failing after an earlier cell failed: which cells carry the mark, and which to fix first."""

from runner.engine.cascade import after_failures, first_failure


def _pairs(*statuses):
    return list(enumerate(statuses))


def test_failures_after_a_cell_that_stopped_part_way_are_marked_with_that_cell():
    pairs = _pairs("ran", "error", "error", "passed", "mismatch", "timeout", "skipped")
    assert after_failures(pairs) == {2: 1, 4: 1, 5: 1}
    assert first_failure(pairs) == 1


def test_a_mismatch_breaks_nothing_so_a_later_failure_is_its_own():
    pairs = _pairs("mismatch", "error", "figure_mismatch")
    assert after_failures(pairs) == {2: 1}
    assert first_failure(pairs) == 0


def test_every_breaking_status_counts_and_order_is_by_index():
    for breaking in ("timeout", "memory_limit", "output_limit", "crashed"):
        assert after_failures([(2, "nondeterministic"), (0, breaking), (1, "ran")]) == {2: 0}
    assert after_failures(_pairs("passed", "ran")) == {} and first_failure(_pairs("ran")) is None
