"""Readers vote "Was this helpful?" with plain form posts, from cached pages, once a day."""

import datetime
import re

import pytest
from django.test import Client

from feedback.identity import salts_purge, voter_hash
from feedback.models import DailySalt, Vote
from tests.feedback.conftest import started_10_s_ago

pytestmark = pytest.mark.django_db

SLUG = "deep-learning-vs-cnn"
VOTE_URL = f"/questions/{SLUG}/feedback/"
WHY_URL = f"/questions/{SLUG}/feedback/why/"


def _why_link(response) -> str:
    assert response.status_code == 302 and response["Location"].startswith(WHY_URL + "?vote="), response
    return response["Location"]


def test_every_answer_asks_and_a_yes_counts_once_per_client_and_day_on_the_revision_read(client, flagship):
    page = client.get(f"/questions/{SLUG}/").content.decode()
    assert "Was this helpful?" in page
    assert f'action="{VOTE_URL}"' in page and 'value="yes"' in page and 'value="no"' in page

    response = client.post(VOTE_URL, {"helpful": "yes", "website": ""}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302 and response["Location"] == f"/questions/{SLUG}/#messages"
    thanked = client.get(response["Location"]).content.decode()
    assert "Thank you: your feedback helps us keep this answer right." in thanked
    vote = Vote.objects.get()
    assert vote.helpful and vote.revision == flagship.answer.published_revision
    assert vote.day == datetime.date.today() or abs((vote.day - datetime.date.today()).days) <= 1
    assert re.fullmatch(r"[0-9a-f]{64}", vote.voter) and "203.0.113.7" not in vote.voter

    again = client.post(VOTE_URL, {"helpful": "no"}, REMOTE_ADDR="203.0.113.7", follow=True)
    assert "You already told us about this answer today" in again.content.decode()
    assert Vote.objects.count() == 1 and Vote.objects.get().helpful  # the first vote stands

    client.post(VOTE_URL, {"helpful": "no"}, REMOTE_ADDR="198.51.100.2")
    assert Vote.objects.filter(helpful=False).count() == 1  # another reader counts


def test_voter_codes_rotate_daily_and_cannot_be_linked_once_the_day_salt_is_gone(flagship):
    day, next_day = datetime.date(2026, 11, 2), datetime.date(2026, 11, 3)
    first = voter_hash(answer_id=flagship.answer.pk, address="203.0.113.7", day=day)
    assert first == voter_hash(answer_id=flagship.answer.pk, address="203.0.113.7", day=day)
    assert first != voter_hash(answer_id=flagship.answer.pk + 1, address="203.0.113.7", day=day)
    assert first != voter_hash(answer_id=flagship.answer.pk, address="203.0.113.7", day=next_day)
    # Drawing the next day's salt deletes the day before's: its codes can never be recomputed.
    assert list(DailySalt.objects.values_list("day", flat=True)) == [next_day]
    assert salts_purge(before=datetime.date(2026, 11, 4)) == 1
    assert first != voter_hash(answer_id=flagship.answer.pk, address="203.0.113.7", day=day)


def test_no_asks_why_and_keeps_reasons_and_comment_once(client, flagship):
    why = client.get(_why_link(client.post(VOTE_URL, {"helpful": "no"})))
    html = why.content.decode()
    assert why.status_code == 200 and "no-cache" in why["Cache-Control"]
    for label in (
        "The code or output is wrong",
        "It is out of date",
        "It needs more detail",
        "It is hard to understand",
        "A link or figure is broken",
    ):
        assert label in html
    token = why.context["form"]["vote"].value()
    data = {
        "vote": token,
        "started": started_10_s_ago(),
        "reasons": ["wrong", "outdated"],
        "comment": "The <b>parameter</b> count is 448 only with bias.",
        "website": "",
    }
    response = client.post(WHY_URL, data)
    assert response.status_code == 302 and response["Location"] == f"/questions/{SLUG}/#messages"
    vote = Vote.objects.get()
    assert not vote.helpful and vote.explained_at is not None
    assert sorted(vote.reasons.values_list("reason", flat=True)) == ["outdated", "wrong"]
    assert vote.comment == "The <b>parameter</b> count is 448 only with bias."

    # The same reasons form again (a replay, or a second tab): nothing more is stored.
    replay = client.post(WHY_URL, {**data, "started": started_10_s_ago(), "reasons": ["detail"]}, follow=True)
    assert "You told us why already" in replay.content.decode()
    assert vote.reasons.count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"comment": "x" * 1001, "reasons": []}, "at most 1000 characters"),
        ({"comment": "bad\x00byte", "reasons": []}, "Remove the control characters"),
        ({"comment": "", "reasons": []}, "Choose at least one reason or write a comment."),
        ({"reasons": ["not-a-reason"]}, "Select a valid choice"),
        ({"started": "forged"}, "Something went wrong with this form"),
        ({"started": None}, "quicker than we expected"),
    ],
)
def test_junk_reasons_are_refused_with_a_clear_error_and_store_nothing(client, flagship, change, message):
    token = client.get(_why_link(client.post(VOTE_URL, {"helpful": "no"}))).context["form"]["vote"].value()
    data = {"vote": token, "started": started_10_s_ago(), "reasons": ["wrong"], "comment": "", **change}
    if data["started"] is None:  # sent the instant the form was shown: a script, not a person
        from demo_requests.spam import time_token_issue

        data["started"] = time_token_issue()
    response = client.post(WHY_URL, data)
    assert response.status_code == 400 and message in response.content.decode()
    vote = Vote.objects.get()
    assert vote.explained_at is None and not vote.reasons.exists() and vote.comment == ""


def test_spam_and_junk_votes_store_nothing(client, flagship, settings, django_user_model):
    # The honeypot: a bot that fills every field is thanked like a person, and nothing is kept.
    trapped = client.post(VOTE_URL, {"helpful": "yes", "website": "http://spam.example"}, follow=True)
    assert "Thank you" in trapped.content.decode() and not Vote.objects.exists()
    trapped_why = client.post(WHY_URL, {"vote": "x", "started": started_10_s_ago(), "website": "spam"})
    assert trapped_why.status_code == 302 and not Vote.objects.exists()

    assert client.post(VOTE_URL, {"helpful": "maybe"}).status_code == 400
    assert client.post(VOTE_URL, {}).status_code == 400
    assert client.get(VOTE_URL).status_code == 405
    assert client.post("/questions/no-such-question/feedback/", {"helpful": "yes"}).status_code == 404
    forged = client.get(WHY_URL + "?vote=1:forged")
    assert forged.status_code == 400 and "not valid any more" in forged.content.decode()
    assert (
        client.post(WHY_URL, {"vote": "1", "started": started_10_s_ago(), "reasons": ["wrong"]}).status_code
        == 400
    )
    assert not Vote.objects.exists()

    # A draft is not there for readers: nobody can vote on it.
    from kb.models import Question

    Question.objects.filter(pk=flagship.pk).update(status="draft")
    assert client.post(VOTE_URL, {"helpful": "yes"}).status_code == 404
    Question.objects.filter(pk=flagship.pk).update(status="published")

    # A flood from one client is cut off (other clients are not).
    settings.FEEDBACK_RATE_LIMIT = (3, 600)
    other = Client(REMOTE_ADDR="192.0.2.50")
    for _ in range(3):
        other.post(VOTE_URL, {"helpful": "yes"})
    flood = other.post(VOTE_URL, {"helpful": "yes"})
    assert flood.status_code == 429 and "a lot of feedback" in flood.content.decode()
    assert Vote.objects.count() == 1
    assert Client(REMOTE_ADDR="192.0.2.51").post(VOTE_URL, {"helpful": "yes"}).status_code == 302


def test_votes_post_from_the_cached_page_with_its_csrf_token_and_the_page_stays_cached(flagship):
    first, second = (
        Client(enforce_csrf_checks=True),
        Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.9"),
    )
    first.get(f"/questions/{SLUG}/")
    cached = second.get(f"/questions/{SLUG}/")
    # Served from the page cache (it adds the ETag of the stored page) with this reader's token.
    assert cached.has_header("ETag") and "private" in cached["Cache-Control"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached.content.decode())[1]
    assert second.post(VOTE_URL, {"helpful": "yes"}).status_code == 403  # no token: forged
    response = second.post(VOTE_URL, {"helpful": "yes", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Vote.objects.filter(helpful=True).count() == 1
    assert Client().get(f"/questions/{SLUG}/").has_header("ETag")  # still served from the cache


def test_the_script_gets_json_and_the_link_to_the_why_page(client, flagship):
    yes = client.post(VOTE_URL, {"helpful": "yes"}, HTTP_ACCEPT="application/json")
    assert yes.json() == {
        "message": "Thank you: your feedback helps us keep this answer right.",
        "next": None,
    }
    no = client.post(VOTE_URL, {"helpful": "no"}, HTTP_ACCEPT="application/json", REMOTE_ADDR="192.0.2.1")
    assert no.json()["next"].startswith(WHY_URL + "?vote=")
    junk = client.post(VOTE_URL, {"helpful": "?"}, HTTP_ACCEPT="application/json")
    assert junk.status_code == 400 and "Choose" in junk.json()["message"]


def test_privacy_page_says_what_is_kept_and_why_no_consent_is_needed(client):
    html = client.get("/privacy/").content.decode()
    assert 'id="feedback"' in html
    assert "The address itself is never stored" in html and "voting needs no consent" in html
