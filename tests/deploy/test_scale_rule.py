"""The burst's own arithmetic (tests/deploy/scale.py), checked against the project's: the
replica count it expects from each reading is runner.selectors.replicas_for's, and its CPU
bookkeeping neither loses nor subtracts the time of a container killed mid-burst."""

import pytest
from scale import MAX_REPLICAS, MIN_REPLICAS, compress, cpu_used, desired_replicas

from runner.selectors import replicas_for


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_the_burst_expects_the_replicas_the_projects_rule_gives(concurrency):
    for backlog in range(0, 40):
        expected = replicas_for(
            backlog=backlog, concurrency=concurrency, minimum=MIN_REPLICAS, maximum=MAX_REPLICAS
        )
        assert desired_replicas(backlog, concurrency) == expected
    assert desired_replicas(300, concurrency) == MAX_REPLICAS
    assert desired_replicas(0, concurrency) == MIN_REPLICAS


def test_a_killed_container_keeps_the_cpu_it_used_and_a_new_one_counts_from_zero():
    before = {("worker-cpu", "a"): 10.0, ("worker-cpu", "b"): 20.0, ("postgres", "p"): 5.0}
    after = {("worker-cpu", "a"): 14.5, ("postgres", "p"): 6.0, ("worker-cpu", "c"): 2.0}
    used = cpu_used(before, after)
    assert used["worker-cpu"] == pytest.approx(4.5 + 0 + 2.0)  # b killed: counted up to its last reading
    assert used["postgres"] == pytest.approx(1.0)
    assert used["redis"] == 0.0


def test_the_replica_sequence_is_printed_as_runs_of_equal_values():
    assert compress([3, 3, 3, 2, 1, 1]) == "3x3 2x1 1x2"
    assert compress([]) == ""
