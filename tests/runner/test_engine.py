"""The fork server's contract: statuses, capture, shared state, seeds, streaming."""

import time
from pathlib import Path

from runner.engine.protocol import CellStatus
from tests.runner.conftest import make_cells, run

S = CellStatus


def test_output_is_stdout_then_repr_of_last_expression(server):
    results, info = run(server, ("print('a')\n1 + 1", "a\n2"), "x = None\nx", "print('only')")
    assert [r.status for r in results] == [S.PASSED, S.RAN, S.RAN]
    assert results[0].output == "a\n2"
    assert results[1].output == ""
    assert results[2].output == "only\n"
    assert info.outcome == "finished"


def test_cells_share_one_namespace_in_order(server):
    results, _ = run(server, "x = 1", "x += 1\ndef f(): return x * 10", ("f()", "20"))
    assert [r.status for r in results] == [S.RAN, S.RAN, S.PASSED]


def test_seed_contract_makes_runs_identical(server):
    cell = "import random, numpy, torch\n(random.random(), float(numpy.random.rand()), torch.rand(1).item())"
    first, _ = run(server, cell)
    second, _ = run(server, cell)
    assert first[0].output == second[0].output
    # random.seed(0) then random.random(), exactly as authors rely on it.
    assert first[0].output.startswith("(0.8444218515250481, 0.5488135039273248, 0.49625658988952637")


def test_stderr_is_kept_and_not_compared(server):
    results, _ = run(server, ("import sys\nprint('warn', file=sys.stderr)\nprint('out')", "out"))
    assert results[0].status == S.PASSED
    assert results[0].stderr == "warn\n"


def test_error_keeps_traceback_and_skips_nothing(server):
    results, _ = run(server, "def f():\n    return 1 / 0\nf()", ("2 + 2", "4"))
    assert results[0].status == S.ERROR
    assert "ZeroDivisionError" in results[0].error and 'File "<cell 0>", line 2' in results[0].error
    assert "runner/" not in results[0].error
    assert results[1].status == S.PASSED


def test_traceback_names_library_files_by_package_path_not_the_servers_paths(server):
    import sys

    code = "import torch\ntorch.nn.Conv2d(3, 4, kernel_size=3)(torch.ones(2))"
    results, _ = run(server, (code, None, {"raises": "RuntimeError"}))
    error = results[0].error
    assert results[0].status == S.PASSED
    assert 'File "torch/nn/modules/conv.py", line' in error
    for private in ("site-packages", sys.prefix, str(Path(__file__).resolve().parents[2])):
        assert private not in error


def test_warnings_on_stderr_name_library_files_by_package_path(server):
    results, _ = run(server, "import numpy\nnumpy.mean([])")  # RuntimeWarning: Mean of empty slice
    assert "numpy/_core/fromnumeric.py:" in results[0].stderr
    assert "site-packages" not in results[0].stderr


def test_mismatch_and_syntax_error(server):
    results, _ = run(server, ("1 + 1", "3"), "def (:")
    assert results[0].status == S.MISMATCH and results[0].output == "2"
    assert results[1].status == S.ERROR and "SyntaxError" in results[1].error


def test_raises_passes_only_when_that_exception_is_raised(server):
    results, _ = run(
        server,
        ("raise ValueError('bad')", None, {"raises": "ValueError"}),
        ("raise ValueError('bad')", "ValueError: bad", {"raises": "ValueError"}),
        ("raise KeyError('k')", None, {"raises": "LookupError"}),
        ("1 + 1", None, {"raises": "ValueError"}),
        ("raise TypeError('t')", None, {"raises": "ValueError"}),
    )
    assert [r.status for r in results] == [S.PASSED, S.PASSED, S.PASSED, S.MISMATCH, S.ERROR]


def test_tol_on_numbers_in_output(server):
    results, _ = run(
        server,
        ("import torch\nprint(f'loss={torch.tensor(1 / 3).item()}')", "loss=0.3333", {"tol": 1e-3}),
        ("print(f'loss={torch.tensor(1 / 3).item()}')", "loss=0.3333"),
    )
    assert [r.status for r in results] == [S.PASSED, S.MISMATCH]


def test_figures_left_open_are_captured_as_png_and_closed(server):
    results, _ = run(
        server,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.figure()\nplt.bar([1], [2]);",
        "len(plt.get_fignums())",
    )
    assert results[0].status == S.RAN
    assert len(results[0].figures) == 2 and all(png.startswith(b"\x89PNG") for png in results[0].figures)
    assert results[1].output == "0"


def test_each_figure_carries_its_own_title_for_its_alt_text(server):
    # The default alt text and caption name the figure's title, read in the sandbox.
    code = """import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([3, 2, 1])
ax.set_title("Training   loss\\nper epoch")
fig, (left, right) = plt.subplots(1, 2)
left.set_title("Loss")
right.set_title("Accuracy")
right.set_title("epoch 20", loc="right")
fig, axes = plt.subplots(1, 2)
fig.suptitle("Training")
axes[0].set_title("Loss")
axes[1].set_title("Loss")
plt.figure()
plt.plot([1, 2])
fig, ax = plt.subplots()
ax.set_title("x" * 400)"""
    results, _ = run(server, code)
    assert results[0].status == S.RAN and len(results[0].figures) == 5
    titles = results[0].figure_titles
    assert titles[:4] == ["Training loss per epoch", "Loss; Accuracy epoch 20", "Training (Loss)", ""]
    assert len(titles[4]) == 300 and titles[4].endswith("…")


def test_figure_titles_from_the_sandbox_are_checked_like_any_report():
    from runner.engine.supervisor import _figure_titles

    assert _figure_titles(["a", 3, None], 2) == ["a", ""]
    assert _figure_titles("not a list", 2) == ["", ""]
    assert _figure_titles(["t" * 5000], 1) == ["t" * 300]
    assert _figure_titles(None, 0) == []


def test_too_many_figures_is_an_output_limit(server):
    results, _ = run(server, "import matplotlib.pyplot as plt\nfor i in range(7):\n    plt.figure()", "1")
    assert results[0].status == S.OUTPUT_LIMIT and "figure" in results[0].error
    assert results[1].status == S.SKIPPED


def test_cuda_cell_without_cuda_is_skipped(server):
    if server.has_cuda:
        return
    results, _ = run(server, ("import torch\ntorch.ones(1, device='cuda')", None, {"device": "cuda"}), "1")
    assert [r.status for r in results] == [S.SKIPPED, S.RAN]


def test_results_stream_as_each_cell_finishes(server):
    run_ = server.run_answer(make_cells("1", "import time\ntime.sleep(1)"))
    started = time.monotonic()
    first = next(iter(run_))
    first_at = time.monotonic() - started
    results, info = run_.wait()
    assert first.status == S.RAN and first_at < 0.8
    assert [r.status for r in results] == [S.RAN, S.RAN]
    assert time.monotonic() - started >= 1


def test_run_info_reports_the_sandbox(server):
    _, info = run(server, "1")
    sandbox = info.sandbox
    assert set(sandbox["namespaces"]) == {"pid", "net", "mount", "ipc", "uts"}
    assert "rlimits" in sandbox and sandbox["threads"] >= 1
    assert info.started_at <= info.finished_at


def test_stopping_iteration_early_cancels_the_run(server):
    run_ = server.run_answer(make_cells("1", "import time\ntime.sleep(30)", "2"))
    for result in run_:
        assert result.status == S.RAN
        break
    run_._iterator.close()
    started = time.monotonic()
    results, _ = run(server, ("3", "3"))
    assert results[0].status == S.PASSED and time.monotonic() - started < 5
