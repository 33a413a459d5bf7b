import pytest

from answers.models import Revision
from kb.models import Question

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-Staff-123")
    client.force_login(user)
    return client, user


def _question_form(**overrides):
    data = {
        "title": "Why ReLU?",
        "slug": "why-relu",
        "summary": "Gradients.",
        "status": "draft",
        "answer-TOTAL_FORMS": "1",
        "answer-INITIAL_FORMS": "0",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-body": "## Gradients\n\n```python run\n1 + 1\n```\n\n```output\n2\n```\n",
    }
    data.update(overrides)
    return data


def test_staff_create_a_question_with_its_answer_inline_and_a_revision_is_kept(staff_client):
    client, user = staff_client
    response = client.post("/admin/kb/question/add/", _question_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    question = Question.objects.get(slug="why-relu")
    assert question.author == user and question.status == "draft"
    assert question.answer.cell_count == 1
    assert [(r.number, r.created_by) for r in Revision.objects.filter(answer__question=question)] == [
        (1, user)
    ]


def test_editing_the_answer_adds_a_revision_shown_in_the_history(staff_client):
    client, user = staff_client
    client.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")
    edit = _question_form(
        **{
            "answer-INITIAL_FORMS": "1",
            "answer-0-id": str(question.answer.pk),
            "answer-0-question": str(question.pk),
            "answer-0-body": "## Gradients, revised\n\nNew text.\n",
        }
    )
    assert client.post(f"/admin/kb/question/{question.pk}/change/", edit).status_code == 302
    history = client.get(f"/admin/answers/answer/{question.answer.pk}/change/").content.decode()
    assert "Gradients, revised" in history and "1 + 1" in history  # both revisions listed


def test_preview_shows_the_rendered_answer_of_a_draft(staff_client):
    client, _ = staff_client
    client.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")
    html = client.get(f"/admin/kb/question/{question.pk}/preview/").content.decode()
    assert '<h2 id="gradients">' in html and "draft" in html and "Queued to run" in html
    assert client.get("/questions/why-relu/").status_code == 404  # drafts stay private


def test_publishing_from_the_list_makes_the_page_public(staff_client):
    client, _ = staff_client
    client.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")
    client.post("/admin/kb/question/", {"action": "publish_selected", "_selected_action": [question.pk]})
    question.refresh_from_db()
    assert question.status == "published" and question.published_at is not None
    assert client.get("/questions/why-relu/").status_code == 200


def test_list_filters_and_search_work(staff_client):
    client, _ = staff_client
    client.post("/admin/kb/question/add/", _question_form())
    html = client.get("/admin/kb/question/?status__exact=draft&q=relu").content.decode()
    assert "Why ReLU?" in html


def test_anonymous_users_cannot_reach_the_admin(client):
    assert client.get("/admin/kb/question/").status_code == 302
