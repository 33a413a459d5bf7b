"""Celery tasks for answers: thin shells over services; each has a stable name and deadline."""

from celery import shared_task

from . import maintenance


@shared_task(name="answers.reverify_published", ignore_result=True, time_limit=300)
def reverify_published() -> int:
    """Daily: run every published answer again, past the cache."""
    return maintenance.answers_reverify_published(force=True)


@shared_task(name="answers.reverify_on_environment_change", ignore_result=True, time_limit=300)
def reverify_on_environment_change() -> int:
    """Every few minutes: re-run answers whose verified run used another worker environment."""
    return maintenance.answers_reverify_changed_environment()


@shared_task(
    name="answers.notify_stopped_passing",
    ignore_result=True,
    time_limit=60,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_stopped_passing(answer_id: int) -> None:
    maintenance.staff_notify_stopped_passing(answer_id=answer_id)
