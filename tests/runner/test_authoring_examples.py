"""The examples in docs/authoring.md really verify: each one is run through the sandbox and
every cell must pass or run. Examples that use an option the parser does not accept yet are
left out here (tests/answers/test_authoring_doc.py checks they parse once it does)."""

import re
from pathlib import Path

import pytest

from answers.cells import parse_answer
from runner.engine.protocol import OK_STATUSES

DOC = Path(__file__).resolve().parents[2] / "docs" / "authoring.md"
EXAMPLES = re.findall(r"^````markdown\n(.*?)^````", DOC.read_text(), re.MULTILINE | re.DOTALL)


def _runnable(example: str):
    parsed = parse_answer(example)
    return parsed.cells if parsed.cells and not parsed.errors else None


RUNNABLE = [example for example in EXAMPLES if _runnable(example)]


def test_most_examples_are_runnable_today():
    assert len(EXAMPLES) >= 5 and len(RUNNABLE) >= 4


@pytest.mark.parametrize("example", RUNNABLE, ids=[f"example-{i}" for i in range(len(RUNNABLE))])
def test_example_verifies(server, example):
    results, _ = server.run_answer(_runnable(example)).wait()
    assert [r.status for r in results if r.status not in OK_STATUSES] == [], [
        (r.status, r.output, r.error) for r in results
    ]
