"""Server-side drafts of the answer editor: saved as the author types, offered back on the
author's next visit (only theirs, only when they differ from the saved answer), dropped when the
question is saved; junk and outsiders get clear refusals."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from answers.models import AnswerDraft
from answers.services import answer_save
from kb.models import Question

pytestmark = pytest.mark.django_db

DRAFT = "/admin/kb/question/editor/draft/"
ADD = "/admin/kb/question/add/"


def _staff(django_user_model, name: str, *perms: str) -> Client:
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Author-123", is_staff=True)
    for perm in perms or ("kb.change_question", "kb.add_question", "kb.view_question"):
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def _config(page: bytes) -> dict:
    match = re.search(
        rb'<script id="kb-answer-editor-config" type="application/json">(.*?)</script>', page, re.S
    )
    return json.loads(match.group(1))


def test_a_draft_of_an_existing_answer_is_offered_back_to_its_author_only(django_user_model):
    question = Question.objects.create(title="Drafted", slug="drafted")
    answer_save(question=question, body="Saved text.\n")
    author, other = _staff(django_user_model, "author"), _staff(django_user_model, "other")
    saved = author.post(DRAFT, {"body": "Typed, not saved.\n", "question": str(question.pk)})
    assert saved.status_code == 200 and saved.json()["savedAt"]
    again = author.post(DRAFT, {"body": "Typed more, not saved.\n", "question": str(question.pk)})
    assert again.status_code == 200 and AnswerDraft.objects.count() == 1

    page = author.get(f"/admin/kb/question/{question.pk}/change/")
    assert _config(page.content)["draft"]["body"] == "Typed more, not saved.\n"
    assert _config(other.get(f"/admin/kb/question/{question.pk}/change/").content)["draft"] is None
    # A draft that holds what the answer already holds is not offered.
    author.post(DRAFT, {"body": "Saved text.\n", "question": str(question.pk)})
    assert _config(author.get(f"/admin/kb/question/{question.pk}/change/").content)["draft"] is None


def test_a_new_questions_draft_is_offered_on_the_add_page_and_dropped_when_saved(django_user_model):
    author = _staff(django_user_model, "author")
    author.post(DRAFT, {"body": "A new answer.\n"})
    assert _config(author.get(ADD).content)["draft"]["body"] == "A new answer.\n"
    form = {
        "title": "New one", "slug": "new-one", "status": "draft",
        "answer-TOTAL_FORMS": "1", "answer-INITIAL_FORMS": "0", "answer-0-body": "A new answer.\n",
        "data_files-TOTAL_FORMS": "0", "data_files-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = author.post(ADD, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not AnswerDraft.objects.exists()
    assert _config(author.get(ADD).content)["draft"] is None


def test_discard_drops_the_draft(django_user_model):
    author = _staff(django_user_model, "author")
    author.post(DRAFT, {"body": "Throw away.\n"})
    assert author.post(DRAFT, {"body": "", "action": "discard"}).json() == {"discarded": True}
    assert not AnswerDraft.objects.exists()


def test_junk_and_outsiders_are_refused_and_nothing_is_kept(django_user_model):
    author = _staff(django_user_model, "author")
    assert author.post(DRAFT, {"body": "x", "question": "999999"}).status_code == 404
    assert author.post(DRAFT, {"body": "x", "question": "1 OR 1=1"}).status_code == 404
    too_big = author.post(DRAFT, {"body": "x" * 2_000_000})
    assert too_big.status_code == 400 and "at most" in too_big.json()["error"]
    assert author.post(DRAFT, {"body": "a\x00b"}).status_code == 400
    assert author.get(DRAFT).status_code == 405
    viewer = _staff(django_user_model, "viewer", "kb.view_question")
    assert viewer.post(DRAFT, {"body": "x"}).status_code == 403
    anonymous = Client().post(DRAFT, {"body": "x"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(django_user_model.objects.get(username="author"))
    assert csrf.post(DRAFT, {"body": "x"}).status_code == 403
    assert not AnswerDraft.objects.exists()
