"""Every custom admin view checks the model permission it implies: staff
without that permission get 403, as on the standard admin pages."""

import nbformat
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from answers.services import answer_save
from demo_requests.models import DemoRequest
from kb.models import Question

pytestmark = pytest.mark.django_db


def _staff(client, django_user_model, *perms):
    user = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-Clerk-123", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client.force_login(user)
    return user


def _notebook():
    cells = [new_markdown_cell("# Imported"), new_code_cell("print('ran')")]
    return SimpleUploadedFile("n.ipynb", nbformat.writes(new_notebook(cells=cells)).encode())


@pytest.fixture
def draft():
    question = Question.objects.create(title="Secret draft", slug="secret-draft")
    answer_save(question=question, body="Unpublished prose.\n\n```python run\nprint('secret')\n```\n")
    return question


def test_staff_without_permissions_get_403_on_every_custom_admin_view(client, django_user_model, draft):
    _staff(client, django_user_model)
    assert client.get("/admin/kb/question/").status_code == 403  # the standard page, for reference
    for url in [
        f"/admin/kb/question/{draft.pk}/preview/",
        f"/admin/kb/question/{draft.pk}/run-status/",
        "/admin/kb/question/import-notebook/",
        "/admin/analytics/articleviewday/",
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Unpublished prose" not in response.content and b"secret" not in response.content
    response = client.post("/admin/kb/question/import-notebook/", {"notebook": _notebook()})
    assert response.status_code == 403
    assert Question.objects.count() == 1


def test_view_permission_shows_the_preview_but_does_not_import_or_act(client, django_user_model, draft):
    _staff(client, django_user_model, "kb.view_question", "demo_requests.view_demorequest")
    assert client.get(f"/admin/kb/question/{draft.pk}/preview/").status_code == 200
    assert client.get(f"/admin/kb/question/{draft.pk}/run-status/").status_code == 200
    assert client.post("/admin/kb/question/import-notebook/", {"notebook": _notebook()}).status_code == 403
    # Changelist actions that write need the change permission too.
    response = client.post(
        "/admin/kb/question/", {"action": "publish_selected", "_selected_action": [draft.pk]}
    )
    draft.refresh_from_db()
    assert draft.status == "draft", response.status_code
    request = DemoRequest.objects.create(
        name="A", email="a@example.com", company="C", consent_to_contact=True
    )
    client.post(
        "/admin/demo_requests/demorequest/", {"action": "mark_closed", "_selected_action": [request.pk]}
    )
    request.refresh_from_db()
    assert request.status == "new"


def test_add_permissions_let_staff_import_a_notebook(client, django_user_model):
    _staff(client, django_user_model, "kb.add_question", "kb.view_question", "answers.change_answer")
    response = client.post("/admin/kb/question/import-notebook/", {"notebook": _notebook()})
    assert response.status_code == 302
    assert Question.objects.get().answer.cell_count == 1
