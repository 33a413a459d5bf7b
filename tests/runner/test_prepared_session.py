"""The standby child rehearses a cell and prepares the answer's session before its job arrives:
the answer must not be able to tell. Its first cell starts from an empty namespace, no open
figure, generators freshly seeded with nothing drawn since, exactly as a cold child's would."""

from runner.engine.protocol import CellStatus
from tests.runner.conftest import run

S = CellStatus


def test_the_first_cell_sees_only_the_notebook_names_not_the_rehearsal(server):
    results, _ = run(
        server,
        ("sorted(name for name in globals() if not name.startswith('__'))", "['display', 'get_ipython']"),
        ("'torch' in dir(), 'value' in dir()", "(False, False)"),
    )
    assert [r.status for r in results] == [S.PASSED, S.PASSED]


def test_no_figure_of_the_rehearsal_is_open_or_captured(server):
    results, _ = run(server, ("import matplotlib.pyplot as plt\nplt.get_fignums()", "[]"))
    assert results[0].status == S.PASSED
    assert results[0].figures == []


def test_nothing_draws_from_the_generators_between_the_seeding_and_the_first_cell(server):
    # A cell that draws nothing is not reported; one that draws is, with the runner's seed's value.
    results, _ = run(server, "x = 1", "import numpy\nfloat(numpy.random.rand())")
    assert results[0].unseeded_random == []
    assert results[1].unseeded_random == ["numpy"]
    assert results[1].output == "0.5488135039273248"


def test_an_author_seeding_in_the_first_cell_is_not_reported(server):
    cell = ("import random\nrandom.seed(1)\nrandom.random()", "0.13436424411240122")
    results, _ = run(server, cell)
    assert results[0].status == S.PASSED
    assert results[0].unseeded_random == []
