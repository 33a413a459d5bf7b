"""Celery tasks for demo requests: thin shells that take ids and call services.

Deadlines: sending one e-mail takes seconds; a hung SMTP server is cut off by the soft limit
(30 s) and the attempt retried. Retries back off 30 s, 60 s, ... up to 10 minutes, six times
(about 25 minutes in all); after that the sweep (every minute on beat) queues the e-mail again.
"""

from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import services

EMAIL_SOFT_TIME_LIMIT_S = 30
EMAIL_TIME_LIMIT_S = 60


@shared_task(
    name="demo_requests.send_email",
    autoretry_for=(SMTPException, OSError, SoftTimeLimitExceeded),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=EMAIL_SOFT_TIME_LIMIT_S,
    time_limit=EMAIL_TIME_LIMIT_S,
    acks_late=True,
    ignore_result=True,
)
def send_demo_request_email(request_id: int, kind: str) -> bool:
    return services.demo_request_send_email(request_id=request_id, kind=kind)


@shared_task(name="demo_requests.requeue_unsent_emails", ignore_result=True, time_limit=60)
def requeue_unsent_emails(older_than_s: int = 60) -> int:
    return services.demo_request_requeue_unsent(older_than=timedelta(seconds=older_than_s))


@shared_task(name="demo_requests.purge_closed", ignore_result=True, time_limit=300)
def purge_closed_requests() -> int:
    return services.demo_requests_purge(older_than=timedelta(days=settings.DEMO_REQUEST_RETENTION_DAYS))
