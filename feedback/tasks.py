"""Feedback housekeeping. Deadline: one DELETE, well under the minute."""

from celery import shared_task

from .identity import salts_purge, today


@shared_task(name="feedback.purge_old_salts", ignore_result=True, time_limit=60)
def purge_old_salts() -> int:
    return salts_purge(before=today())
