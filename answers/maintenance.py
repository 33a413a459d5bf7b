"""Keeping published answers verified: periodic re-runs and telling staff what stopped passing."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

from kb.models import Question
from runner import results as runner_results
from runner import workers as runner_workers
from runner.engine.fingerprint import KEY_FIELDS

from .models import Answer
from .services import answer_verify


def _published_answers():
    return Answer.objects.filter(
        question__status=Question.Status.PUBLISHED, cell_count__gt=0, published_revision__isnull=False
    ).select_related("question", "published_run", "run", "published_revision")


def _reference_run(answer: Answer):
    """The verified run readers see, when the answer still has the same body: a
    re-run must then reproduce its outputs, so drift shows as "stopped passing"."""
    published = answer.published_revision
    run = answer.published_run
    if published is None or run is None or published.body != answer.body or run.status != "verified":
        return None
    return run


def answers_reverify_published(*, force: bool) -> int:
    count = 0
    for answer in _published_answers():
        answer_verify(answer=answer, force=force, reference=_reference_run(answer))
        count += 1
    return count


def answers_reverify_changed_environment() -> int:
    """Answers whose published run ran in an environment other than the pool's current one.

    A new fingerprint gives a new execution key, so answer_verify (not forced) queues exactly
    one new run per answer and nothing when the environment is unchanged.
    """
    current = {field: runner_workers.pool_fingerprint(queue="cpu").get(field) for field in KEY_FIELDS}
    count = 0
    for answer in _published_answers():
        run = answer.published_run
        if run is None or run.queue != "cpu":
            continue
        used = {field: (run.fingerprint or {}).get(field) for field in KEY_FIELDS}
        if used != current and (answer.run_id == run.pk or answer.run.is_finished):
            answer_verify(answer=answer, reference=_reference_run(answer))
            count += 1
    return count


def staff_notify_stopped_passing(*, answer_id: int) -> None:
    answer = Answer.objects.select_related("question", "run").filter(pk=answer_id).first()
    if answer is None or answer.stopped_passing_at is None:
        return
    staff = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not staff:
        return
    results = runner_results.run_results(run=answer.run)
    failing = [
        _failure_text(index, cell, results[index])
        for index, cell in enumerate(answer.run.cells)
        if index in results and not results[index]["ok"]
    ]
    admin_url = settings.SITE_URL + reverse("admin:kb_question_change", args=[answer.question_id])
    send_mail(
        subject=f"Answer stopped passing: {answer.question.title}"[:150],
        message=(
            f"The published answer to “{answer.question.title}” no longer verifies.\n"
            f"Readers still see the last verified version.\n\n"
            f"Run #{answer.run_id} failed:\n" + "\n".join(failing) + f"\n\nReview it: {admin_url}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=staff,
    )


def _failure_text(index: int, cell: dict, result: dict) -> str:
    """Which cell and how: the status, why, and the exact difference if any."""
    lines = [f"  cell {index + 1} (line {cell['line']}): {result['status_label']}"]
    if result.get("error"):
        lines += [f"    {line}" for line in result["error"].strip().splitlines()[-12:]]
    reference = (result.get("checks") or {}).get("reference") or {}
    if reference.get("output_diff"):
        lines += [f"    {line}" for line in reference["output_diff"].splitlines()[:40]]
    return "\n".join(lines)
