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
        "data_files-TOTAL_FORMS": "0",
        "data_files-INITIAL_FORMS": "0",
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
    assert "draft" in html and f'src="/admin/kb/question/{question.pk}/preview/frame/"' in html
    assert "css/site.css" not in html  # the site's stylesheet stays out of the admin's page
    frame = client.get(f"/admin/kb/question/{question.pk}/preview/frame/")
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    html = frame.content.decode()
    assert '<h2 id="gradients">' in html and "Queued to run" in html and "css/site.css" in html
    assert "Expected output (not yet checked)" in html
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


def test_two_staff_editing_at_once_lose_no_revision_and_the_second_is_warned(staff_client):
    client, _ = staff_client
    client.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")

    def edit(body, base):
        return _question_form(
            **{
                "answer-INITIAL_FORMS": "1",
                "answer-0-id": str(question.answer.pk),
                "answer-0-question": str(question.pk),
                "answer-0-base_revision": str(base),
                "answer-0-body": body,
            }
        )

    # Both opened revision 1; the first saves, the second is told and keeps their text.
    assert (
        client.post(f"/admin/kb/question/{question.pk}/change/", edit("First editor's text", 1)).status_code
        == 302
    )
    response = client.post(f"/admin/kb/question/{question.pk}/change/", edit("Second editor's text", 1))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Someone else saved revision 2" in html and "Second editor&#x27;s text" in html
    assert list(
        Revision.objects.filter(answer=question.answer).order_by("number").values_list("body", flat=True)
    ) == [
        _question_form()["answer-0-body"].strip(),
        "First editor's text",
    ]
    # Saving again from the newer base keeps all three.
    assert (
        client.post(f"/admin/kb/question/{question.pk}/change/", edit("Second editor's text", 2)).status_code
        == 302
    )
    assert Revision.objects.filter(answer=question.answer).count() == 3


def test_notebook_upload_rejects_files_that_are_not_notebooks(staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client, _ = staff_client
    url = "/admin/kb/question/import-notebook/"
    for name, content, message in [
        ("x.ipynb", b"this is not json", "not a valid Jupyter notebook"),
        ("x.ipynb", b'{"cells": 3}', "not a valid Jupyter notebook"),
        ("big.ipynb", b" " * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
    ]:
        response = client.post(url, {"notebook": SimpleUploadedFile(name, content), "title": "T"})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Question.objects.exists()


def test_notebook_upload_starts_a_draft_answer_with_runnable_cells(staff_client):
    import nbformat
    from django.core.files.uploadedfile import SimpleUploadedFile
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    client, _ = staff_client
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Shapes through a CNN"),
            new_markdown_cell("Some prose."),
            new_code_cell("import torch\ntorch.zeros(1, 3, 8, 8).shape"),
        ]
    )
    upload = SimpleUploadedFile("shapes.ipynb", nbformat.writes(notebook).encode())
    response = client.post("/admin/kb/question/import-notebook/", {"notebook": upload})
    question = Question.objects.get(slug="shapes-through-a-cnn")
    assert response.status_code == 302 and question.status == "draft"
    assert question.answer.cell_count == 1
    assert "Some prose." in question.answer.body and "```python run\nimport torch" in question.answer.body


def test_preview_frame_and_authoring_reference_are_for_staff_only(client, staff_client):
    staff, _ = staff_client
    staff.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")
    staff.logout()
    for url in (f"/admin/kb/question/{question.pk}/preview/frame/", "/admin/authoring/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_authoring_reference_renders_docs_authoring_md_in_the_admin(staff_client):
    client, _ = staff_client
    html = client.get("/admin/authoring/").content.decode()
    assert "<h1" in html and "Writing verified answers" in html
    assert html.count("<h1") == 1  # the admin's own title is not shown over the document's
    assert "<code>raises=</code>" in html and "<code>figure_mismatch</code>" in html
    assert "<table>" in html and 'class="cell' not in html  # examples are shown, never run


def test_answer_help_text_names_output_blocks_and_every_option_and_links_the_reference(staff_client):
    client, _ = staff_client
    html = client.get("/admin/kb/question/add/").content.decode()
    for needle in (
        "```output",
        "timeout=",
        "device=cuda",
        "raises=",
        "tol=",
        "hide=true",
        "figtol=",
        "nondeterministic=true",
        "alt=",
        "caption=",
        'href="/admin/authoring/"',
    ):
        assert needle in html, needle


def test_preview_frame_is_refused_to_staff_who_may_not_view_questions(
    client, staff_client, django_user_model
):
    staff, _ = staff_client
    staff.post("/admin/kb/question/add/", _question_form())
    question = Question.objects.get(slug="why-relu")
    client.force_login(
        django_user_model.objects.create_user("intern", password="pw-Intern-123", is_staff=True)
    )
    assert client.get(f"/admin/kb/question/{question.pk}/preview/frame/").status_code == 403
