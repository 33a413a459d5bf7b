"""Supervisor hardening: a cell that writes its own frames on the result pipe (fd 3) is
held to every limit, and whatever it writes, the run ends and the fork server stays up."""

import base64

import pytest

from runner.engine.protocol import CellStatus as S
from runner.engine.report_check import ProtocolError, png_size

from .conftest import TEST_LIMITS, run

WRITE_FRAME = (
    "import json, os, struct\n"
    "def frame(message=None, raw=None):\n"
    "    body = raw if raw is not None else json.dumps(message).encode()\n"
    "    data = struct.pack('!I', len(body)) + body\n"
    "    while data:\n"
    "        data = data[os.write(3, data):]\n"
)
SVG = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>").decode()


def cell(fields: str) -> str:
    """A forged report for cell 0 with these fields (Python source of dict items)."""
    return "frame({'t': 'cell', 'index': 0, " + fields + "})"


def forge(body: str) -> str:
    return WRITE_FRAME + body + "\nimport time\ntime.sleep(5)\n"


@pytest.mark.parametrize(
    ("forged", "status", "says"),
    [
        # 20 MiB in one frame: far past what an honest report can be.
        (cell("'repr': 'x' * (20 << 20), 'duration_s': 0.1"), S.CRASHED, "too large"),
        # Past the repr cap but inside the frame cap: an output limit, as printing it would be.
        (cell("'repr': 'x' * (1 << 20), 'duration_s': 0.1"), S.OUTPUT_LIMIT, "repr"),
        (cell(f"'figures': [{SVG!r}] * 120, 'duration_s': 0.1"), S.OUTPUT_LIMIT, "figures in one cell"),
        (cell(f"'figures': [{SVG!r}], 'duration_s': 0.1"), S.CRASHED, "not a PNG"),
        (cell("'figures': ['%%%'], 'duration_s': 0.1"), S.CRASHED, "base64"),
        (cell("'duration_s': -5"), S.CRASHED, "duration"),
        (cell("'duration_s': 1e300"), S.CRASHED, "duration"),
        (cell("'duration_s': 'soon'"), S.CRASHED, "duration"),
        (cell("'duration_s': 0.1, 'peak_memory_bytes': -1"), S.CRASHED, "peak memory"),
        (cell("'repr': 7, 'duration_s': 0.1"), S.CRASHED, "not a string"),
        (cell("'exception': {'names': 'x', 'traceback': 'x', 'line': 'x'}"), S.CRASHED, "names"),
        ("frame({'t': 'cell', 'index': 5, 'duration_s': 0.1})", S.CRASHED, "out of order"),
        ("frame({'t': 'ready', 'facts': {}})", S.CRASHED, "unexpected frame"),
        ("frame(raw=b'[' * 200000 + b']' * 200000)", S.CRASHED, "protocol"),  # RecursionError in json
        ("frame(raw=b'{\"t\": ' * 100000)", S.CRASHED, "protocol"),
        ("frame(raw=b'\\xff\\xfe not json')", S.CRASHED, "protocol"),
        ("frame(raw=b'[1, 2]')", S.CRASHED, "protocol"),
    ],
    ids=[
        "20MiB-frame", "1MiB-repr", "120-svg-figures", "svg-figure", "not-base64", "negative-duration",
        "endless-duration", "duration-text", "negative-memory", "repr-number", "names-not-a-list",
        "wrong-index", "second-ready", "nested-list", "nested-object", "not-utf8", "not-an-object",
    ],
)  # fmt: skip
def test_a_forged_frame_ends_the_run_and_the_server_stays_up(fresh_server, forged, status, says):
    results, info = run(fresh_server, (forge(forged), None, {"timeout": 20}), "print('after')")
    first, second = results
    assert first.status == status, (first.status, first.error)
    assert says in first.error
    assert first.figures == [] and len(first.output) <= TEST_LIMITS.output_bytes
    assert second.status == S.SKIPPED
    if status == S.CRASHED:
        assert "the sandbox broke the protocol" in first.error
        assert info.outcome == "crashed"


def test_a_forged_done_frame_leaves_nothing_verified(fresh_server):
    results, _ = run(
        fresh_server, (forge("frame({'t': 'done'})\nframe({'t': 'done'})"), None, {"timeout": 20}), "1"
    )
    assert results[0].status == S.CRASHED and "unexpected frame" in results[0].error
    assert results[1].status == S.SKIPPED


def test_honest_figures_still_pass_the_png_check(fresh_server):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('Loss')"
    results, _ = run(fresh_server, code)
    assert results[0].status == S.RAN, results[0].error
    (png,) = results[0].figures
    width, height = png_size(png)
    assert width * height <= TEST_LIMITS.figure_pixels


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, b"GIF89a....", b"<svg/>"],
    ids=["empty", "signature-only", "zeros", "gif", "svg"],
)
def test_png_size_refuses_what_is_not_a_whole_png(data):
    with pytest.raises(ProtocolError):
        png_size(data)
