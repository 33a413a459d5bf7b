"""Staff read the reasons, the helpful ratio and the comments inbox; others cannot."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from feedback.models import Vote
from feedback.services import vote_explain, vote_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def votes(flagship):
    answer = flagship.answer
    for n, helpful in enumerate([True, True, True, False, False]):
        vote_record(answer=answer, helpful=helpful, address=f"192.0.2.{n}")
    no_votes = Vote.objects.filter(helpful=False).order_by("pk")
    vote_explain(
        vote_id=no_votes[0].pk, reasons=["wrong", "outdated"], comment="Conv2d has 448 <script>x</script>"
    )
    vote_explain(vote_id=no_votes[1].pk, reasons=["wrong"], comment="")
    return answer


def test_the_report_shows_ratio_by_week_and_revision_reasons_and_comments(admin_client, votes):
    html = admin_client.get(f"/admin/feedback/vote/answer/{votes.pk}/").content.decode()
    assert "Reader feedback: How are deep learning" in html
    assert "<strong>60% helpful</strong>: 3 “Yes” of 5 votes." in html
    assert '<meter min="0" max="100" value="60"' in html  # this week's row
    assert "<td>1</td><td>5</td><td>3</td><td>60%</td>" in html  # revision 1
    assert "<td>The code or output is wrong</td><td>2</td>" in html
    assert "<td>It is out of date</td><td>1</td>" in html
    assert "Conv2d has 448 &lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert "Inbox: 1 comment not handled yet" in html
    # The question admin links to it.
    listing = admin_client.get("/admin/kb/question/").content.decode()
    assert f'href="/admin/feedback/vote/answer/{votes.pk}/">5 votes, 60% helpful</a>' in listing


def test_the_inbox_filters_comments_and_marks_them_handled_in_bulk(admin_client, votes, admin_user):
    inbox = admin_client.get(f"/admin/feedback/vote/?answer__id__exact={votes.pk}&has_comment=yes&handled=no")
    html = inbox.content.decode()
    assert inbox.status_code == 200 and "Conv2d has 448" in html and "1 vote" in html
    assert "The code or output is wrong; It is out of date" in html
    assert all(code not in html for code in Vote.objects.values_list("voter", flat=True))  # never shown
    commented = Vote.objects.exclude(comment="")
    response = admin_client.post(
        "/admin/feedback/vote/",
        {"action": "mark_handled", "_selected_action": [v.pk for v in commented]},
        follow=True,
    )
    assert "Marked 1 item(s) as handled." in response.content.decode()
    handled = Vote.objects.get(pk=commented[0].pk)
    assert handled.handled_at is not None and handled.handled_by == admin_user
    assert (
        "Conv2d has 448"
        not in admin_client.get("/admin/feedback/vote/?has_comment=yes&handled=no").content.decode()
    )
    assert "Conv2d has 448" in admin_client.get("/admin/feedback/vote/?handled=yes").content.decode()
    admin_client.post(
        "/admin/feedback/vote/", {"action": "mark_not_handled", "_selected_action": [handled.pk]}
    )
    assert Vote.objects.get(pk=handled.pk).handled_at is None
    assert admin_client.get("/admin/feedback/vote/add/").status_code == 403


def _staff(django_user_model, name, *perms):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Staff-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client


def test_feedback_admin_permissions_hold_against_an_attacker(client, votes, django_user_model):
    report = f"/admin/feedback/vote/answer/{votes.pk}/"
    assert client.get(report).status_code == 302  # anonymous: to the login page
    nobody = _staff(django_user_model, "nobody")
    assert nobody.get(report).status_code == 403
    assert nobody.get("/admin/feedback/vote/").status_code == 403
    commented = Vote.objects.exclude(comment="").get()
    nobody.post("/admin/feedback/vote/", {"action": "mark_handled", "_selected_action": [commented.pk]})

    viewer = _staff(django_user_model, "viewer", "view_vote")
    assert viewer.get(report).status_code == 200
    listing = viewer.get("/admin/feedback/vote/").content.decode()
    assert "Conv2d has 448" in listing and "mark_handled" not in listing
    viewer.post("/admin/feedback/vote/", {"action": "mark_handled", "_selected_action": [commented.pk]})
    assert Vote.objects.get(pk=commented.pk).handled_at is None  # neither could handle it
    assert viewer.post(f"/admin/feedback/vote/{commented.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Vote.objects.filter(pk=commented.pk).exists()
