"""The answer editor's JSON endpoints: the server's own problems and renderer, staff only."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from answers.cells import CELL_OPTION_NAMES
from answers.editor import cell_option_table
from answers.rendering import render_answer

pytestmark = pytest.mark.django_db

CHECK = "/admin/kb/question/editor/check/"
PREVIEW = "/admin/kb/question/editor/preview/"
RUN = "/admin/kb/question/editor/run/"
BODY = "Intro.\n\n```python run timeout=5 colour=red\nprint(1)\n```\n\n```output\n1\n```\n\n```python run\n"


def _staff(django_user_model, *perms, client=None):
    client = client or Client()
    user = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-Clerk-123", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client.force_login(user)
    return client


def test_check_marks_the_parsers_problems_on_their_lines(django_user_model):
    client = _staff(django_user_model, "kb.change_question")
    response = client.post(CHECK, {"body": BODY})
    assert response.status_code == 200
    problems = response.json()["problems"]
    assert {"line": 3, "message": problems[0]["message"]} == problems[0]
    assert "unknown cell option 'colour'" in problems[0]["message"]
    assert problems[1]["line"] == 11 and "never closed" in problems[1]["message"]
    assert response.json()["cells"][0] == {"index": 0, "line": 3, "span": [2, 9], "has_expected": True}


def test_preview_is_the_published_renderers_html(django_user_model):
    client = _staff(django_user_model, "kb.change_question")
    body = "## Title <script>alert(1)</script>\n\n```python run\nprint('<b>x</b>')\n```\n"
    html = client.post(PREVIEW, {"body": body}).json()["html"]
    assert html == render_answer(body).html
    assert "<script>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_too_large_a_body_is_refused_with_the_reason(django_user_model):
    client = _staff(django_user_model, "kb.change_question")
    response = client.post(PREVIEW, {"body": "x" * 2_000_000})
    assert response.status_code == 413 and "at most" in response.json()["error"]
    assert "at most" in client.post(CHECK, {"body": "x" * 2_000_000}).json()["problems"][0]["message"]


@pytest.mark.parametrize("url", [CHECK, PREVIEW, RUN])
def test_outsiders_get_nothing(url, django_user_model):
    anonymous = Client().post(url, {"body": "x"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    django_user_model.objects.create_user("reader", "r@example.com", "pw-Reader-123")
    reader = Client()
    reader.login(username="reader", password="pw-Reader-123")
    assert reader.post(url, {"body": "x"}).status_code == 302
    viewer = _staff(django_user_model, "kb.view_question")
    assert viewer.post(url, {"body": "x"}).status_code == 403
    assert viewer.get(url).status_code in (403, 405)


@pytest.mark.parametrize("url", [CHECK, PREVIEW, RUN])
def test_csrf_is_required(url, django_user_model):
    client = _staff(django_user_model, "kb.change_question", client=Client(enforce_csrf_checks=True))
    assert client.post(url, {"body": "x"}).status_code == 403
    assert client.get(url).status_code == 405


def test_the_completed_options_are_the_parsers_table():
    assert [o["name"] for o in cell_option_table()] == list(CELL_OPTION_NAMES)
    assert {"timeout", "tol", "nondeterministic", "seed"} <= set(CELL_OPTION_NAMES)
    assert all(o["info"] for o in cell_option_table())
