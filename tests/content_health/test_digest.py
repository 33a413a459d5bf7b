"""The weekly digest, sent through the real SMTP server on loopback."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from answers.models import Answer
from content_health.tasks import send_weekly_digests
from feedback.models import Vote
from feedback.services import vote_explain, vote_record
from kb.models import Question, SearchQueryDay

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings, smtp_inbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_inbox.port
    return smtp_inbox


@pytest.fixture
def owners(make_question, django_user_model):
    ada = django_user_model.objects.create_user("ada", "ada@example.com", is_staff=True, first_name="Ada")
    bob = django_user_model.objects.create_user("bob", "bob@example.com", is_staff=True)
    now = timezone.now()
    stale = make_question(
        title="Pooling and feature maps", tags=("cnn",), published_at=now - timedelta(days=400)
    )
    broken = make_question(title="Batch normalisation", tags=("normalisation",), published_at=now)
    calm = make_question(title="ReLU gradients", tags=("activations",), published_at=now)
    Question.objects.filter(pk__in=[stale.pk, broken.pk]).update(owner=ada)
    Question.objects.filter(pk=calm.pk).update(owner=bob)
    Answer.objects.filter(question=broken).update(stopped_passing_at=now)
    vote = vote_record(answer=broken.answer, helpful=False, address="192.0.2.1")
    vote_explain(vote_id=vote.pk, reasons=["wrong", "outdated"], comment="running_mean is never updated")
    old = vote_record(answer=stale.answer, helpful=False, address="192.0.2.2")
    Vote.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=30))  # not new this week
    vote_record(answer=calm.answer, helpful=True, address="192.0.2.3")
    today = timezone.localdate()
    SearchQueryDay.objects.create(query="cnn dilation", day=today, searches=4, results=0)
    SearchQueryDay.objects.create(query="transformers", day=today, searches=9, results=0)  # no owner's tag
    SearchQueryDay.objects.create(query="cnn padding", day=today, searches=7, results=3)  # found something
    SearchQueryDay.objects.create(query="cnn old", day=today - timedelta(days=20), searches=2, results=0)
    return ada, bob


def test_each_owner_gets_their_digest_and_an_owner_with_nothing_to_report_none(smtp, owners):
    call_command("send_review_digests")
    assert [m["To"] for m in smtp.messages] == ["ada@example.com"]  # bob: one "Yes" vote, nothing due
    (message,) = smtp.messages
    assert message["Subject"] == (
        "Your weekly answers digest: 1 stale, 1 stopped passing, 1 new negative vote, 1 search with no result"
    )
    text = message.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Ada,")
    assert "STOPPED PASSING (1)" in text and "- Batch normalisation\n" in text
    assert "STALE (1)" in text and "- Pooling and feature maps (review was due" in text
    assert "/admin/kb/question/" in text and "/admin/kb/question/content-health/" in text
    negative = text[text.index('NEW "NO" VOTES') :]
    assert "Batch normalisation (revision 1)" in negative
    assert "The code or output is wrong; It is out of date" in negative
    assert "“running_mean is never updated”" in negative
    assert "Pooling and feature maps" not in negative  # last month's vote is not new
    searches = text[text.index("SEARCHES THAT FOUND NOTHING") :]
    assert "“cnn dilation”: 4 searches" in searches
    assert "transformers" not in searches and "cnn padding" not in searches and "cnn old" not in searches


def test_the_beat_task_sends_the_same_and_nothing_goes_to_inactive_or_address_less_owners(smtp, owners):
    ada, bob = owners
    ada.is_active = False
    ada.save()
    assert send_weekly_digests() == 0 and smtp.messages == []
    ada.is_active, ada.email = True, ""
    ada.save()
    assert send_weekly_digests() == 0
    ada.email = "ada@example.com"
    ada.save()
    assert send_weekly_digests() == 1 and smtp.messages[0]["To"] == "ada@example.com"


def test_the_command_refuses_a_nonsense_period(owners):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("send_review_digests", "--days", "0")


def test_a_long_section_lists_its_first_answers_and_counts_them_all(smtp, owners, monkeypatch):
    monkeypatch.setattr("content_health.digest.SECTION_MAX", 1)
    ada, _ = owners
    Question.objects.filter(title="ReLU gradients").update(
        owner=ada, published_at=timezone.now() - timedelta(days=300)
    )
    call_command("send_review_digests")
    text = smtp.messages[0].get_content().replace("\r\n", "\n")
    assert "STALE (2): past their review date." in text
    assert text.count("(review was due") == 1  # the first one only; the page has both
