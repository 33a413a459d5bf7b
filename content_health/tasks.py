"""The weekly digest. Deadline: one e-mail per owner, a few seconds each, well under 10 minutes."""

from celery import shared_task

from .digest import digests_send


@shared_task(name="content_health.send_weekly_digests", ignore_result=True, time_limit=600)
def send_weekly_digests() -> int:
    return digests_send()
