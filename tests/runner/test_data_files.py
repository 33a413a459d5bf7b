"""An answer's data files in the sandbox: readable by bare name, never writable, never shared."""

from runner.engine.datafiles import name_problem
from runner.engine.protocol import CellStatus
from tests.runner.conftest import run

S = CellStatus
FILES = {"names.txt": b"emma\nolivia\nava\n", "table.csv": b"a,b\n1,2\n"}


def test_cells_read_the_answers_files_from_their_working_directory(server):
    results, info = run(
        server,
        ("print(open('names.txt').read().split())", "['emma', 'olivia', 'ava']"),
        ("import pandas\nprint(pandas.read_csv('table.csv').b.sum())", "2"),
        files=FILES,
    )
    assert [r.status for r in results] == [S.PASSED, S.PASSED], results
    assert info.sandbox["data_files"]["count"] == 2


def test_writing_renaming_or_deleting_a_data_file_fails_but_own_files_work(server):
    attempts = [
        "open('names.txt', 'a').write('x')",
        "open('names.txt', 'w')",
        "import os\nos.remove('names.txt')",
        "import os\nos.rename('names.txt', 'other.txt')",
        "import os\nos.chmod('names.txt', 0o666)",
        "import os\nopen('mine.txt', 'w').write('x')\nos.replace('mine.txt', 'names.txt')",
    ]
    results, info = run(
        server,
        *[(code, None, {"raises": "OSError"}) for code in attempts],
        ("open('mine2.txt', 'w').write('ok')\nprint(open('mine2.txt').read())", "ok"),
        ("print(open('names.txt').read())", "emma\nolivia\nava"),
        files=FILES,
    )
    assert info.sandbox["data_files"]["owner"] == "root"
    assert [r.status for r in results] == [S.PASSED] * (len(attempts) + 2), [
        (r.status, r.error) for r in results
    ]


def test_one_answer_never_sees_another_answers_files(server):
    run(server, "print(open('names.txt').read())", files=FILES)
    results, info = run(
        server,
        ("import os\nsorted(os.listdir('.'))", "[]"),
        ("open('names.txt')", None, {"raises": "FileNotFoundError"}),
    )
    assert [r.status for r in results] == [S.PASSED, S.PASSED], results
    assert "data_files" not in info.sandbox


def test_data_file_names_are_plain_file_names():
    for bad in ["", "../x", "a/b", "/etc/passwd", ".env", "..", "a\\b", "x\n", " x", "a" * 101]:
        assert name_problem(bad), bad
    for good in ["names.txt", "data-2024.csv", "Iris data.csv"]:
        assert name_problem(good) is None, good
