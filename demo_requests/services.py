"""Every write to demo requests happens here: creation, e-mail delivery, status, the sweep."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kb.models import Question

from .emails import email_build
from .models import DemoRequest, DemoRequestStatus, EmailKind

logger = logging.getLogger(__name__)

# The sweep leaves alone e-mails queued less than this long ago: the task's own retries
# (about 25 minutes of backoff, see tasks.py) are still working on them.
RETRY_WINDOW = timedelta(minutes=30)
# ... and gives up on requests older than this; they stay visible in the admin.
GIVE_UP_AFTER = timedelta(days=3)


def _emails_enqueue(request_id: int, kinds: list[str]) -> None:
    from .tasks import send_demo_request_email

    try:
        for kind in kinds:
            send_demo_request_email.apply_async((request_id, kind), queue=settings.DEMO_REQUEST_EMAIL_QUEUE)
    except Exception:  # broker down: the request is saved; the sweep sends its e-mails later
        logger.exception("Could not queue e-mails for demo request %s; the sweep will retry", request_id)
        return
    DemoRequest.objects.filter(pk=request_id).update(emails_queued_at=timezone.now())


def demo_request_create(
    *,
    name: str,
    email: str,
    company: str,
    role: str = "",
    message: str = "",
    consent_to_contact: bool,
    source_slug: str = "",
) -> DemoRequest:
    """Save the request, then queue its e-mails once the row is committed and visible."""
    source = Question.objects.published().filter(slug=source_slug).first() if source_slug else None
    with transaction.atomic():
        demo_request = DemoRequest.objects.create(
            name=name,
            email=email,
            company=company,
            role=role,
            message=message,
            consent_to_contact=consent_to_contact,
            source_question=source,
            source_slug=source.slug if source else "",
        )
        kinds = demo_request.unsent()
        transaction.on_commit(lambda: _emails_enqueue(demo_request.pk, kinds))
    return demo_request


def demo_request_send_email(*, request_id: int, kind: str) -> bool:
    """Send one of a request's e-mails unless it was already sent; True when sent now.

    The row is locked while sending, so a retry and a sweep arriving together send once. An
    SMTP failure raises and rolls back, leaving the e-mail unsent for the next attempt.
    """
    field = {EmailKind.SALES: "sales_notified_at", EmailKind.CONFIRMATION: "confirmation_sent_at"}[
        EmailKind(kind)
    ]
    with transaction.atomic():
        demo_request = (
            DemoRequest.objects.select_for_update(of=("self",))
            .select_related("source_question")
            .filter(pk=request_id)
            .first()
        )
        if demo_request is None or getattr(demo_request, field) is not None:
            return False
        email_build(demo_request=demo_request, kind=kind).send(fail_silently=False)
        setattr(demo_request, field, timezone.now())
        demo_request.save(update_fields=[field])
    return True


def demo_request_requeue_unsent(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Queue again the e-mails that were never sent: never queued (the broker was down when the
    form was posted) for `older_than`, or queued so long ago that the task's retries are over."""
    now = timezone.now()
    pending = DemoRequest.objects.filter(
        Q(sales_notified_at__isnull=True) | Q(confirmation_sent_at__isnull=True),
        Q(emails_queued_at__isnull=True) | Q(emails_queued_at__lt=now - RETRY_WINDOW),
        created_at__lt=now - older_than,
        created_at__gte=now - GIVE_UP_AFTER,
    )
    count = 0
    for demo_request in pending:
        _emails_enqueue(demo_request.pk, demo_request.unsent())
        count += 1
    return count


def demo_request_set_status(*, demo_requests, status: str) -> int:
    return demo_requests.update(status=DemoRequestStatus(status), updated_at=timezone.now())


def demo_requests_purge(*, older_than: timedelta) -> int:
    """Delete closed requests whose last change is older than the retention period."""
    deleted, _ = DemoRequest.objects.filter(
        status=DemoRequestStatus.CLOSED, updated_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
