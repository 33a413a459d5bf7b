"""Importing a notebook with its stored outputs, through a real worker: the review shows which
cells match what Jupyter stored, suggests the change that absorbs an address, a float's last
digits or a random number, and one click applies it and runs the answer again."""

import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from answers.cells import parse_answer
from answers.models import Answer, FigureApproval
from kb.models import Question
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "answers" / "notebooks"
IMPORT_URL = "/admin/kb/question/import-notebook/"


def _upload(client, name: str, raw: bytes | None = None, **fields):
    raw = raw if raw is not None else (NOTEBOOKS / f"{name}.ipynb").read_bytes()
    return client.post(IMPORT_URL, {"notebook": SimpleUploadedFile(f"{name}.ipynb", raw), **fields})


def _finished_answer(question_id: int, after_run: int | None = None) -> Answer:
    def finished():
        answer = Answer.objects.select_related("run").get(question_id=question_id)
        if answer.run and answer.run.is_finished and answer.run_id != after_run:
            return answer
        return None

    return wait_for(finished, timeout=120, interval=0.3)


def _review(client, question_id: int) -> str:
    response = client.get(f"/admin/kb/question/{question_id}/notebook-review/")
    assert response.status_code == 200
    return response.content.decode()


def _verdicts(page: str) -> list[str]:
    return re.findall(r'<span class="kb-verdict--(\w+)">', page)


def _apply(client, question_id: int, **fields):
    return client.post(f"/admin/kb/question/{question_id}/notebook-review/apply/", fields, follow=True)


def test_review_shows_what_matches_and_one_click_applies_each_suggestion(client, cpu_worker, admin_user):
    client.force_login(admin_user)
    response = _upload(client, "stored_outputs", keep_outputs="on", keep_figures="on")
    assert response.status_code == 302, response.content.decode()[-2000:]
    question = Question.objects.get()
    assert response["Location"] == f"/admin/kb/question/{question.pk}/notebook-review/"
    assert question.status == "draft"
    # the stored image is the figure's approval
    assert FigureApproval.objects.filter(question=question, origin="import", cell_index=9).count() == 1

    answer = _finished_answer(question.pk)
    page = _review(client, question.pk)
    assert (
        "Matching their stored output: 5 · differing: 5 · failed: 0 · ran with nothing to compare: 1." in page
    )
    assert _verdicts(page) == [
        "pass",
        "pass",
        "differs",
        "differs",
        "differs",
        "pass",
        "ran",
        "pass",
        "pass",
        "differs",
        "differs",
    ]
    assert "-&lt;__main__.Thing object at 0x7f3a2c1d9e50&gt;" in page  # the diff, escaped
    for label in (
        "Write ... for the addresses in cell 3",
        "Add tol=1e-12 in cell 4",
        "Add nondeterministic=true and drop the stored output in cell 5",
    ):
        assert f'aria-label="{label}"' in page
    assert page.count('name="kind"') == 3  # nothing offered for "hullo" against "hello", a real difference
    assert "Compare and approve the figures" in page  # Jupyter's image differs from the sandbox's

    refused = _apply(client, question.pk, cell=2, kind="tol", run=answer.run_id)
    assert "Not applied: Cell 3 has no such suggestion now." in refused.content.decode()
    assert Answer.objects.get(pk=answer.pk).run_id == answer.run_id  # nothing saved

    for index, kind in ((2, "ellipsis"), (3, "tol"), (4, "nondeterministic")):
        done = _apply(client, question.pk, cell=index, kind=kind, run=answer.run_id)
        assert (
            f"Cell {index + 1}: " in done.content.decode()
            and "the answer is running again" in done.content.decode()
        )
        stale = _apply(client, question.pk, cell=index, kind=kind, run=answer.run_id)
        assert "The answer changed since this page was shown" in stale.content.decode()
        answer = _finished_answer(question.pk, after_run=answer.run_id)

    cells = parse_answer(answer.body).cells
    assert cells[2].expected == "<__main__.Thing ...>"
    assert cells[3].options.tol == 1e-12
    assert cells[4].options.nondeterministic and cells[4].expected is None
    assert answer.revisions.count() == 4
    page = _review(client, question.pk)
    assert _verdicts(page) == [
        "pass",
        "pass",
        "pass",
        "pass",
        "ran",
        "pass",
        "ran",
        "pass",
        "pass",
        "differs",
        "differs",
    ]
    assert Question.objects.get().status == "draft"  # reviewing publishes nothing


def test_line_separators_carriage_returns_markers_and_timeouts_through_a_worker(
    client, cpu_worker, admin_user, django_user_model
):
    client.force_login(admin_user)
    assert _upload(client, "line_separators", keep_outputs="on").status_code == 302
    question = Question.objects.get()
    answer = _finished_answer(question.pk)
    results = {cell.index: cell.status for cell in answer.run.results.all()}
    # U+2028, \x0b, \x0c, \x1c-\x1e and \x85 ran exactly as written and printed what Jupyter did
    assert results == {0: "passed", 1: "passed", 2: "passed"} and answer.run.status == "verified"

    slow = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# Slow"},
            {
                "cell_type": "code",
                "id": "s",
                "execution_count": 1,
                "outputs": [],
                "metadata": {"kb": {"options": {"timeout": 1}}},
                "source": "while True:\n    pass",
            },
        ],
    }
    assert _upload(client, "slow", raw=json.dumps(slow).encode()).status_code == 302
    slow_question = Question.objects.get(slug="slow")
    _finished_answer(slow_question.pk)
    page = _review(client, slow_question.pk)
    assert _verdicts(page) == ["failed"]
    error = Answer.objects.get(question=slow_question).run.results.get().error
    assert error.startswith("cell timed out after 1 s"), error
    assert (
        "cell timed out after 1 s, its timeout= (default 60 s): raise it with timeout=SECONDS on the "
        "cell&#x27;s ```python run line (at most 600)" in page
    )

    viewer = django_user_model.objects.create_user("viewer", "v@example.com", "pw-Viewer-123", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_question"))
    client.force_login(viewer)
    assert client.get(f"/admin/kb/question/{question.pk}/notebook-review/").status_code == 200
    forbidden = client.post(
        f"/admin/kb/question/{question.pk}/notebook-review/apply/", {"cell": 0, "kind": "tol", "run": 1}
    )
    assert forbidden.status_code == 403
