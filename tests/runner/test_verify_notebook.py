"""`manage.py verify_notebook` through the real command line
and the real sandbox, on the small notebooks of tests/answers/notebooks/."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "tests" / "answers" / "notebooks"


def _manage(*args):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "manage.py", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _suites(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {Path(suite.get("name")).name: suite for suite in root}


def test_verify_notebook_json_exit_status_and_junit_xml(tmp_path):
    junit = tmp_path / "report.xml"
    done = _manage(
        "verify_notebook",
        NOTEBOOKS / "stored_outputs.ipynb",
        NOTEBOOKS / "line_separators.ipynb",
        NOTEBOOKS / "lone_carriage_return.ipynb",
        "--json",
        "--junit-xml",
        junit,
    )
    assert done.returncode == 1, done.stderr
    files = {Path(f["path"]).name: f for f in json.loads(done.stdout)["files"]}
    stored = files["stored_outputs.ipynb"]
    assert stored["status"] == "failed"
    assert [c["status"] for c in stored["cells"]] == [
        "passed",  # stdout and the last value, as stored
        "passed",  # "\r10%\r50%\r100%" stored, read as a terminal shows it
        "mismatch",  # the object's memory address differs on every run
        "mismatch",  # 1.0 stored, 0.9999999999999999 here
        "mismatch",  # random numbers Jupyter drew unseeded
        "passed",  # raises-exception tag: raises=ZeroDivisionError
        "ran",  # NBVAL_IGNORE_OUTPUT: nothing compared, and two runs may differ
        "passed",  # (NBVAL_SKIP's cell is not run, so not here)
        "passed",  # stderr never compared
        "ran",  # its stored image is compared only with --figures
        "mismatch",  # "hullo" stored, "hello" printed
    ]
    assert [c["notebook_cell"] for c in stored["cells"]] == [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    first = stored["cells"][0]
    assert first["expected"].rstrip() == "x is 42\n42" and first["output"].rstrip() == "x is 42\n42"
    assert set(first) >= {
        "index",
        "line",
        "status",
        "output",
        "expected",
        "stderr",
        "error",
        "figures",
        "duration_s",
    }
    assert stored["cells"][9]["figures"] == 1
    assert files["line_separators.ipynb"]["status"] == "verified"
    refused = files["lone_carriage_return.ipynb"]
    assert refused["status"] == "failed" and refused["cells"] == []
    assert "Cell 3, line 1: a carriage return" in refused["errors"][0]["message"]

    suites = _suites(junit)
    suite = suites["stored_outputs.ipynb"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("11", "4", "0")
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "cell 1 (notebook cell 3)" and cases[0].find("failure") is None
    failure = cases[2].find("failure")
    assert failure.get("message") == "mismatch"
    assert (
        "-<__main__.Thing object at 0x7f3a2c1d9e50>" in failure.text
        and "+<__main__.Thing object at 0x" in failure.text
    )
    assert suites["line_separators.ipynb"].get("failures") == "0"
    authoring = suites["lone_carriage_return.ipynb"].find("testcase")
    assert authoring.get("name") == "authoring" and "carriage return" in authoring.find("failure").text

    clean = _manage("verify_notebook", NOTEBOOKS / "line_separators.ipynb", "--once", "--junit-xml", junit)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "=> verified" in clean.stdout
    assert _suites(junit)["line_separators.ipynb"].get("failures") == "0"
