"""Which requests the sweep sends again, and what the retention purges delete."""

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from consent.models import ConsentRecord
from consent.services import consent_records_purge
from demo_requests.models import DemoRequest, DemoRequestStatus
from demo_requests.services import demo_request_requeue_unsent, demo_requests_purge

pytestmark = pytest.mark.django_db


def _request(name, *, age, queued_ago=None, sent=False, **fields):
    now = timezone.now()
    request = DemoRequest.objects.create(name=name, email=f"{name}@x.example", company="X", **fields)
    DemoRequest.objects.filter(pk=request.pk).update(
        created_at=now - age,
        emails_queued_at=None if queued_ago is None else now - queued_ago,
        sales_notified_at=now if sent else None,
        confirmation_sent_at=now if sent else None,
    )
    return request


@pytest.fixture
def unheard_queue(settings):
    """A queue no worker consumes, emptied afterwards: the messages only prove they were sent."""
    settings.DEMO_REQUEST_EMAIL_QUEUE = "test-sweep-nobody-listens"
    yield
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("test-sweep-nobody-listens")


def test_the_sweep_sends_what_was_never_queued_or_whose_retries_are_over(unheard_queue):
    never_queued = _request("never", age=timedelta(minutes=5))
    retries_over = _request("stale", age=timedelta(hours=2), queued_ago=timedelta(hours=2))
    _request("retrying", age=timedelta(minutes=5), queued_ago=timedelta(minutes=5))
    _request("sent", age=timedelta(minutes=5), sent=True)
    _request("just-posted", age=timedelta(seconds=5))
    _request("given-up", age=timedelta(days=4))
    assert demo_request_requeue_unsent(older_than=timedelta(minutes=1)) == 2
    requeued = DemoRequest.objects.filter(emails_queued_at__gte=timezone.now() - timedelta(minutes=1))
    assert set(requeued.values_list("pk", flat=True)) == {never_queued.pk, retries_over.pk}


def test_retention_purges_only_old_closed_requests_and_old_consent_records():
    old_closed = _request("old-closed", age=timedelta(days=800), status=DemoRequestStatus.CLOSED)
    DemoRequest.objects.filter(pk=old_closed.pk).update(updated_at=timezone.now() - timedelta(days=800))
    old_open = _request("old-open", age=timedelta(days=800))
    DemoRequest.objects.filter(pk=old_open.pk).update(updated_at=timezone.now() - timedelta(days=800))
    _request("new-closed", age=timedelta(days=1), status=DemoRequestStatus.CLOSED)
    assert demo_requests_purge(older_than=timedelta(days=730)) == 1
    assert set(DemoRequest.objects.values_list("name", flat=True)) == {"old-open", "new-closed"}

    old = ConsentRecord.objects.create(choices={}, policy_version="1", action="reject_all")
    ConsentRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1200))
    ConsentRecord.objects.create(choices={}, policy_version="1", action="accept_all")
    assert consent_records_purge(older_than=timedelta(days=1095)) == 1
    assert ConsentRecord.objects.get().action == "accept_all"
