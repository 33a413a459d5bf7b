"""Consent housekeeping. Deadline: one DELETE, well under the 5-minute limit."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(name="consent.purge_old_records", ignore_result=True, time_limit=300)
def purge_old_records() -> int:
    return services.consent_records_purge(older_than=timedelta(days=settings.CONSENT_RECORD_RETENTION_DAYS))
