"""E-mails through a real SMTP server on loopback, real Redis brokers and real worker processes."""

from datetime import timedelta

import pytest

from demo_requests.models import DemoRequest, EmailKind
from demo_requests.services import demo_request_requeue_unsent, demo_request_send_email
from demo_requests.tasks import requeue_unsent_emails
from tests.workers.conftest import WorkerProcess, wait_for

from .conftest import form_data

SALES = "sales@vds.example"


@pytest.fixture
def smtp_settings(settings, smtp_inbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_inbox.port
    settings.SALES_EMAIL = [SALES]
    settings.DEMO_REQUEST_EMAIL_QUEUE = "mail"
    return smtp_inbox


@pytest.fixture
def mail_worker(django_db_setup, own_broker, smtp_settings):
    """A real Celery worker process consuming the e-mail queue of this test's own broker."""
    worker = WorkerProcess(
        "mail",
        queues="mail",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_settings.port),
        SALES_EMAIL=SALES,
        DEMO_REQUEST_EMAIL_QUEUE="mail",
    )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def _sent(request_id):
    request = DemoRequest.objects.get(pk=request_id)
    return request if not request.unsent() else None


@pytest.mark.django_db
def test_each_email_is_sent_once_with_safe_headers(smtp_settings, flagship):
    request = DemoRequest.objects.create(
        name="Ada Lovelace",
        email="ada@analytical.example",
        company="Analytical Engines",
        message="Please show <b>GPU</b> runs.",
        consent_to_contact=True,
        source_question=flagship,
        source_slug=flagship.slug,
    )
    assert demo_request_send_email(request_id=request.pk, kind=EmailKind.SALES)
    assert demo_request_send_email(request_id=request.pk, kind=EmailKind.CONFIRMATION)
    # A retry or a sweep arriving after the e-mail went out sends nothing more.
    assert not demo_request_send_email(request_id=request.pk, kind=EmailKind.SALES)
    assert len(smtp_settings.messages) == 2
    (sales,) = smtp_settings.to(SALES)
    assert sales["Subject"] == "Demo request: Ada Lovelace, Analytical Engines"
    assert sales["Reply-To"] == "ada@analytical.example"
    body = sales.get_content()
    assert "Please show <b>GPU</b> runs." in body and f"/questions/{flagship.slug}/" in body
    assert f"/admin/demo_requests/demorequest/{request.pk}/change/" in body
    (confirmation,) = smtp_settings.to("ada@analytical.example")
    assert "Please show" not in confirmation.get_content()  # nothing typed is echoed to the address
    request.refresh_from_db()
    assert request.sales_notified_at and request.confirmation_sent_at


@pytest.mark.django_db
def test_a_row_with_line_breaks_still_cannot_add_headers(smtp_settings):
    # The form refuses control characters; even a row written some other way is flattened.
    request = DemoRequest.objects.create(
        name="Eve\r\nBcc: victim@example.com", email="eve@example.com", company="X\nSubject: spam"
    )
    demo_request_send_email(request_id=request.pk, kind=EmailKind.SALES)
    (message,) = smtp_settings.messages
    assert message["Subject"] == "Demo request: Eve Bcc: victim@example.com, X Subject: spam"
    assert message["Bcc"] is None and message["X-Envelope-To"] == SALES


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_notification_arrives_through_a_worker(client, mail_worker, smtp_settings, flagship):
    response = client.post("/demo/", form_data(source=flagship.slug))
    assert response.status_code == 302
    request = wait_for(lambda: _sent(DemoRequest.objects.get().pk), timeout=60)
    assert request.emails_queued_at is not None
    wait_for(lambda: len(smtp_settings.messages) == 2, timeout=10)
    (sales,) = smtp_settings.to(SALES)
    assert sales["Subject"] == "Demo request: Ada Lovelace, Analytical Engines Ltd"
    assert flagship.title in sales.get_content()
    assert len(smtp_settings.to("ada@analytical.example")) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_stopped_the_request_is_saved_and_mailed_once_it_returns(
    client, own_broker, mail_worker, smtp_settings
):
    own_broker.stop()
    response = client.post("/demo/", form_data())
    assert response.status_code == 302 and response["Location"] == "/demo/thanks/"
    request = DemoRequest.objects.get()
    assert request.emails_queued_at is None and request.unsent() == ["sales", "confirmation"]

    own_broker.start()
    # What beat does every minute; here without waiting for the request to be a minute old.
    requeue_unsent_emails.apply_async(kwargs={"older_than_s": 0}, queue="mail")
    wait_for(lambda: _sent(request.pk), timeout=60)
    wait_for(lambda: len(smtp_settings.messages) == 2, timeout=10)
    assert len(smtp_settings.to(SALES)) == 1 and len(smtp_settings.to("ada@analytical.example")) == 1
    # A second sweep finds nothing left to send.
    assert demo_request_requeue_unsent(older_than=timedelta(0)) == 0
