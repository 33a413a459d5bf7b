"""Content-health states from real data, "Mark reviewed" (one and in bulk, with history), the
page readers see, and the admin's permissions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from content_health.models import ReviewMark
from content_health.selectors import questions_in_state
from feedback.models import Vote
from feedback.services import vote_explain, vote_record
from kb.models import Question

pytestmark = pytest.mark.django_db


def _titles(state):
    return sorted(questions_in_state(state).values_list("title", flat=True))


@pytest.fixture
def shelf(make_question, admin_user):
    now = timezone.now()
    made = {
        "fresh": make_question(title="Fresh", published_at=now - timedelta(days=10)),
        "due": make_question(title="Due soon", published_at=now - timedelta(days=175)),
        "stale": make_question(title="Stale", published_at=now - timedelta(days=200)),
        # Its own interval (30 days) makes it stale at 40 days; the default would not.
        "short": make_question(title="Short interval", published_at=now - timedelta(days=40)),
        "draft": make_question(title="Draft", published=False),
    }
    Question.objects.filter(pk=made["short"].pk).update(review_interval_days=30)
    Question.objects.exclude(pk=made["draft"].pk).update(owner=admin_user)
    return made


def test_due_and_stale_follow_publication_review_and_interval(shelf, admin_client):
    assert _titles("due") == ["Due soon"]
    assert _titles("stale") == ["Short interval", "Stale"]
    assert _titles("stopped_passing") == [] and _titles("flagged") == [] and _titles("runs_differed") == []
    listing = admin_client.get("/admin/kb/question/?health=stale").content.decode()
    assert "Stale" in listing and "Short interval" in listing and "Fresh" not in listing

    page = admin_client.get("/admin/kb/question/content-health/").content.decode()
    assert '<a href="#due">Due for review</a></th><td>1</td>' in page
    assert '<a href="#stale">Stale (past its review date)</a></th><td>2</td>' in page
    assert "Without an owner</a></th><td>0</td>" in page


def test_readers_flag_with_wrong_or_out_of_date_until_the_next_review(shelf, admin_client, admin_user):
    fresh = shelf["fresh"].answer
    unclear = vote_record(answer=fresh, helpful=False, address="192.0.2.1")
    vote_explain(vote_id=unclear.pk, reasons=["unclear"], comment="")
    assert _titles("flagged") == []  # hard to understand is not "wrong"
    wrong = vote_record(answer=fresh, helpful=False, address="192.0.2.2")
    vote_explain(vote_id=wrong.pk, reasons=["outdated"], comment="torch 1.x API")
    assert _titles("flagged") == ["Fresh"]

    response = admin_client.post(f"/admin/kb/question/{shelf['fresh'].pk}/mark-reviewed/", {"next": "health"})
    assert response.status_code == 302 and response["Location"] == "/admin/kb/question/content-health/"
    assert _titles("flagged") == []  # the flags before the review are dealt with
    Vote.objects.filter(pk=wrong.pk).update(created_at=timezone.now() + timedelta(seconds=5))
    assert _titles("flagged") == ["Fresh"]  # a new one after it flags again
    mark = ReviewMark.objects.get()
    assert mark.reviewed_by == admin_user and mark.revision_number == 1


def test_mark_reviewed_in_bulk_keeps_history_resets_the_due_date_and_shows_readers(
    shelf, admin_client, admin_user, client
):
    stale, short, draft = shelf["stale"], shelf["short"], shelf["draft"]
    before = client.get(f"/questions/{stale.slug}/").content.decode()  # now in the page cache
    assert "Reviewed <time" not in before
    selected = [stale.pk, short.pk, draft.pk]
    response = admin_client.post(
        "/admin/kb/question/", {"action": "mark_reviewed", "_selected_action": selected}, follow=True
    )
    assert "Marked 2 question(s) reviewed. 1 not published, left alone." in response.content.decode()
    assert _titles("stale") == []
    admin_client.post("/admin/kb/question/", {"action": "mark_reviewed", "_selected_action": [stale.pk]})
    assert ReviewMark.objects.filter(question=stale).count() == 2  # the history keeps both
    assert not ReviewMark.objects.filter(question=draft).exists()
    stale.refresh_from_db()
    assert stale.reviewed_by == admin_user
    change = admin_client.get(f"/admin/kb/question/{stale.pk}/change/").content.decode()
    assert "Review history" in change and change.count("<li>") >= 2 and "Mark reviewed" in change

    after = client.get(f"/questions/{stale.slug}/").content.decode()  # the cached page was bumped
    today = timezone.localtime(stale.reviewed_at)
    assert f'Reviewed <time datetime="{today:%Y-%m-%d}">{today.day} {today:%b %Y}</time>' in after


def _staff(django_user_model, name, *perms):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Staff-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client


def test_content_health_permissions_hold_against_an_attacker(shelf, client, django_user_model):
    page, mark = (
        "/admin/kb/question/content-health/",
        f"/admin/kb/question/{shelf['stale'].pk}/mark-reviewed/",
    )
    assert client.get(page).status_code == 302 and client.post(mark).status_code == 302  # to log in
    nobody = _staff(django_user_model, "nobody")
    assert nobody.get(page).status_code == 403 and nobody.post(mark).status_code == 403
    viewer = _staff(django_user_model, "viewer", "view_question")
    html = viewer.get(page).content.decode()
    assert viewer.get(page).status_code == 200 and "Stale" in html and "Mark reviewed" not in html
    assert viewer.post(mark).status_code == 403
    viewer.post("/admin/kb/question/", {"action": "mark_reviewed", "_selected_action": [shelf["stale"].pk]})
    editor = _staff(django_user_model, "editor", "view_question", "change_question")
    assert editor.get(mark).status_code == 405  # a GET (a link, an image) never marks anything
    assert not ReviewMark.objects.exists()
    assert editor.post(mark).status_code == 302 and ReviewMark.objects.count() == 1
    assert (
        _staff(django_user_model, "deleter", "delete_reviewmark")
        .post(f"/admin/content_health/reviewmark/{ReviewMark.objects.get().pk}/delete/", {"post": "yes"})
        .status_code
        == 403
    )
    assert ReviewMark.objects.count() == 1
