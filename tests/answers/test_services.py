import pytest

from answers.models import Revision
from answers.services import answer_save
from kb.models import Question

pytestmark = pytest.mark.django_db


def _question():
    return Question.objects.create(title="Q", slug="q")


def test_every_changed_save_keeps_a_revision_with_author(django_user_model):
    editor = django_user_model.objects.create_user("editor", is_staff=True)
    question = _question()
    answer_save(question=question, body="First", by=editor)
    answer_save(question=question, body="Second", by=editor)
    answer_save(question=question, body="Second", by=editor)  # unchanged: no new revision
    revisions = list(Revision.objects.filter(answer__question=question).order_by("number"))
    assert [(r.number, r.body, r.created_by) for r in revisions] == [
        (1, "First", editor),
        (2, "Second", editor),
    ]


def test_prose_only_edit_keeps_the_cells_key_and_code_edit_changes_it():
    question = _question()
    first = answer_save(question=question, body="Intro\n\n```python run\nx = 1\n```\n").cells_key
    prose = answer_save(question=question, body="New intro\n\n```python run\nx = 1\n```\n").cells_key
    code = answer_save(question=question, body="New intro\n\n```python run\nx = 2\n```\n").cells_key
    assert first == prose != code


def test_a_draft_with_authoring_errors_still_saves_and_reports_them():
    answer = answer_save(question=_question(), body="```python run nope=1\nx = (\n```\n")
    assert answer.pk is not None
    assert answer.authoring_errors == [{"line": 1, "message": answer.authoring_errors[0]["message"]}]
    assert "unknown cell option 'nope'" in answer.authoring_errors[0]["message"]


def test_saving_renders_once_and_stores_html_and_search_text():
    question = _question()
    answer = answer_save(question=question, body="## Pooling\n\nMax pooling keeps the largest value.")
    question.refresh_from_db()
    assert '<h2 id="pooling">' in answer.rendered_html
    assert "largest value" in question.search_document
