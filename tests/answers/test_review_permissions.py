"""Review before publishing, tried as an attacker: an author without "can publish" submits for
review and nothing else (no Publish action, forged posts refused); a reviewer approves; the
admin login or 403 for everyone else. Prose-only answers verify at once, so no worker is needed."""

import pytest
from django.contrib.auth.models import Group, Permission

from answers.models import Answer, ReviewEvent
from answers.reviews import COMMENT_MAX
from answers.services import answer_save
from kb.models import Question
from kb.page_cache import pages_changed

pytestmark = pytest.mark.django_db

AUTHOR_PERMS = [
    "kb.add_question",
    "kb.change_question",
    "kb.view_question",
    "answers.add_answer",
    "answers.change_answer",
]


def _user(django_user_model, name, *perms, group=None, is_staff=True):
    user = django_user_model.objects.create_user(
        name, f"{name}@example.com", "pw-Long-123", is_staff=is_staff
    )
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def author(django_user_model):
    return _user(django_user_model, "author", *AUTHOR_PERMS)


@pytest.fixture
def reviewer(django_user_model):
    return _user(django_user_model, "reviewer", group="Reviewers")  # the data migration's group


@pytest.fixture
def published():
    """A live question whose answer a command wrote (approved, as every import is)."""
    question = Question.objects.create(title="Pooling", slug="pooling")
    answer_save(question=question, body="Max pooling keeps the largest value.")
    question.status = Question.Status.PUBLISHED
    question.save()
    pages_changed()
    return question


def _review_urls(pk):
    base = f"/admin/kb/question/{pk}/review/"
    return base, base + "submit/", base + "approve/", base + "request-changes/"


def _edit_as(client, question, body):
    """The author's edit through the real admin change form (the inline's revision check too)."""
    answer = question.answer
    number = answer.revisions.order_by("-number").first().number
    data = {
        "title": question.title,
        "slug": question.slug,
        "summary": question.summary,
        "author": "",
        "answer-TOTAL_FORMS": "1",
        "answer-INITIAL_FORMS": "1",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-id": str(answer.pk),
        "answer-0-question": str(question.pk),
        "answer-0-body": body,
        "answer-0-base_revision": str(number),
        "_continue": "1",
    }
    response = client.post(f"/admin/kb/question/{question.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_anonymous_and_non_staff_get_the_login_and_change_nothing(client, django_user_model, published):
    view, submit, approve, changes = _review_urls(published.pk)
    for url in (view, submit, approve, changes):
        response = client.get(url) if url == view else client.post(url, {"revision": "1"})
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), url
    client.force_login(_user(django_user_model, "reader", is_staff=False))
    for url in (view, approve):
        response = client.get(url) if url == view else client.post(url, {"revision": "1"})
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), url
    assert not ReviewEvent.objects.exists()


def test_staff_without_view_permission_get_403_and_view_only_staff_cannot_act(
    client, django_user_model, published
):
    view, submit, approve, changes = _review_urls(published.pk)
    client.force_login(_user(django_user_model, "clerk"))
    assert client.get(view).status_code == 403
    for url in (submit, approve, changes):
        assert client.post(url, {"revision": "1", "comment": "x"}).status_code == 403, url
    client.force_login(_user(django_user_model, "watcher", "kb.view_question"))
    response = client.get(view)
    assert response.status_code == 200
    assert b"Max pooling keeps the largest value." in response.content
    assert b"Approve and publish" not in response.content and b"Submit revision" not in response.content
    for url in (submit, approve, changes):
        assert client.post(url, {"revision": "1", "comment": "x"}).status_code == 403, url
    assert not ReviewEvent.objects.exists()


def test_an_author_cannot_publish_by_any_forged_post(client, author):
    client.force_login(author)
    question = Question.objects.create(title="Strides", slug="strides", author=author)
    answer_save(question=question, body="A stride of 2 halves the width.", by=author)
    assert client.get("/admin/kb/question/").status_code == 200

    changelist = client.get("/admin/kb/question/").content.decode()
    assert "publish_selected" not in changelist  # the action is not offered
    response = client.post(
        "/admin/kb/question/", {"action": "publish_selected", "_selected_action": [question.pk]}
    )
    assert response.status_code in (200, 302)

    form = client.get(f"/admin/kb/question/{question.pk}/change/").content.decode()
    assert 'name="status"' not in form and 'name="allow_unverified"' not in form  # read-only
    data = {
        "title": "Strides",
        "slug": "strides",
        "summary": "",
        "status": "published",
        "allow_unverified": "on",
        "answer-TOTAL_FORMS": "1",
        "answer-INITIAL_FORMS": "1",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-id": str(question.answer.pk),
        "answer-0-question": str(question.pk),
        "answer-0-body": "A stride of 2 halves the width.",
        "answer-0-base_revision": "1",
    }
    assert client.post(f"/admin/kb/question/{question.pk}/change/", data).status_code == 302

    _, _, approve, changes = _review_urls(question.pk)
    assert client.post(approve, {"revision": "1"}).status_code == 403
    assert client.post(changes, {"revision": "1", "comment": "mine"}).status_code == 403

    question.refresh_from_db()
    assert (question.status, question.allow_unverified, question.review_state) == ("draft", False, "draft")
    assert Answer.objects.get(question=question).published_revision is None
    assert client.get("/questions/strides/").status_code == 404
    assert not ReviewEvent.objects.exists()


def test_an_author_adds_a_question_as_a_draft_even_when_posting_published(client, author):
    client.force_login(author)
    data = {
        "title": "Padding",
        "slug": "padding",
        "summary": "",
        "status": "published",
        "answer-TOTAL_FORMS": "1",
        "answer-INITIAL_FORMS": "0",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-body": "Same padding keeps the size.",
    }
    response = client.post("/admin/kb/question/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    question = Question.objects.get(slug="padding")
    assert question.status == "draft" and question.answer.published_revision is None
    assert client.get("/questions/padding/").status_code == 404


def test_submit_then_a_reviewer_approves_and_readers_see_it(client, author, reviewer):
    question = Question.objects.create(title="Dilation", slug="dilation", author=author)
    answer_save(question=question, body="Dilation spaces the kernel out.", by=author)
    view, submit, approve, changes = _review_urls(question.pk)

    client.force_login(author)
    page = client.get(view).content.decode()
    assert "Submit revision 1 for review" in page and "Approve and publish" not in page
    client.post(submit, {"comment": "First draft, please check."})
    question.refresh_from_db()
    assert question.review_state == "in_review"
    again = client.post(submit, {}, follow=True).content.decode()
    assert "in review already" in again

    client.force_login(reviewer)
    changelist = client.get("/admin/kb/question/").content.decode()
    assert "publish_selected" in changelist and "In review" in changelist
    page = client.get(view).content.decode()
    assert "Approve and publish revision 1" in page and "Request changes" in page
    assert "<ins>Dilation spaces the kernel out.</ins>" in page  # nothing published before: all new
    response = client.post(approve, {"revision": "1", "comment": "Clear."}, follow=True)
    assert "Approved." in response.content.decode()

    question.refresh_from_db()
    assert (question.status, question.review_state) == ("published", "approved")
    assert client.get("/questions/dilation/").content.decode().count("Dilation spaces the kernel out.") >= 1
    history = client.get(f"/admin/kb/question/{question.pk}/change/").content.decode()
    assert "Submitted for review" in history and "First draft, please check." in history
    assert "Approved" in history and "Clear." in history and "reviewer" in history and "author" in history


def test_request_changes_needs_a_comment_and_a_fresh_revision_number(client, author, reviewer):
    question = Question.objects.create(title="Groups", slug="groups", author=author)
    answer_save(question=question, body="Grouped convolutions split channels.", by=author)
    view, submit, approve, changes = _review_urls(question.pk)
    client.force_login(author)
    client.post(submit)
    client.force_login(reviewer)
    assert "Say what should change" in client.post(changes, {"revision": "1"}, follow=True).content.decode()
    too_long = client.post(changes, {"revision": "1", "comment": "x" * (COMMENT_MAX + 1)}, follow=True)
    assert f"at most {COMMENT_MAX}" in too_long.content.decode()
    junk = client.post(approve, {"revision": "one"}, follow=True).content.decode()
    assert "was saved after you opened this review" in junk
    # The author saves revision 2 while the reviewer reads revision 1: approving 1 is refused.
    answer_save(question=question, body="Grouped convolutions split the channels into groups.", by=author)
    stale = client.post(approve, {"revision": "1"}, follow=True).content.decode()
    assert "Revision 2 was saved after you opened this review" in stale
    question.refresh_from_db()
    assert (question.status, question.review_state) == ("draft", "in_review")
    assert question.answer.published_revision is None
    comment = "<script>alert(1)</script> say what a group is"
    client.post(changes, {"revision": "2", "comment": comment})
    question.refresh_from_db()
    assert question.review_state == "draft"
    page = client.get(view).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; say what a group is" in page and "<script>alert" not in page
    steps = list(
        ReviewEvent.objects.filter(question=question)
        .order_by("at", "pk")
        .values_list("action", "revision__number")
    )
    assert steps == [("submitted", 1), ("revised", 2), ("changes_requested", 2)]


def test_an_authors_edit_of_a_live_question_leaves_readers_on_the_published_revision(
    client, author, reviewer, published
):
    client.force_login(author)
    form = client.get(f"/admin/kb/question/{published.pk}/change/").content.decode()
    assert 'name="title"' not in form  # a live question's title changes only through a reviewer
    _edit_as(client, published, "Max pooling keeps the largest value in each window.")
    published.refresh_from_db()
    assert published.review_state == "draft"
    page = client.get("/questions/pooling/").content.decode()
    assert "Max pooling keeps the largest value." in page and "in each window" not in page
    review = client.get(f"/admin/kb/question/{published.pk}/review/").content.decode()
    assert "Max pooling keeps the largest <del>value.</del><ins>value in each window.</ins>" in review
    client.post(f"/admin/kb/question/{published.pk}/review/submit/")
    client.force_login(reviewer)
    client.post(f"/admin/kb/question/{published.pk}/review/approve/", {"revision": "2"})
    page = client.get("/questions/pooling/").content.decode()
    assert "Max pooling keeps the largest value in each window." in page


def test_a_question_without_an_answer_has_nothing_to_submit(client, author):
    question = Question.objects.create(title="Empty", slug="empty", author=author)
    client.force_login(author)
    page = client.get(f"/admin/kb/question/{question.pk}/review/").content.decode()
    assert "no answer yet" in page and "Submit revision" not in page
    refused = client.post(f"/admin/kb/question/{question.pk}/review/submit/", follow=True).content.decode()
    assert "no answer yet: write one first" in refused
    assert client.get("/admin/kb/question/999999/review/").status_code == 404
    question.refresh_from_db()
    assert question.review_state == "draft" and not ReviewEvent.objects.exists()
