"""Writes of content health: staff mark an answer reviewed (who and when, kept as history)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kb.models import Question
from kb.page_cache import pages_changed

from .models import ReviewMark


def _published_revision_number(question: Question) -> int | None:
    answer = getattr(question, "answer", None)
    revision = getattr(answer, "published_revision", None) if answer is not None else None
    return revision.number if revision is not None else None


@transaction.atomic
def questions_mark_reviewed(*, questions, by) -> int:
    """Mark every published question of `questions` reviewed now; drafts are left alone.

    Readers see "Reviewed <date>" on the page, so cached pages are invalidated once."""
    now = timezone.now()
    published = list(
        questions.filter(status=Question.Status.PUBLISHED).select_related("answer__published_revision")
    )
    if not published:
        return 0
    ReviewMark.objects.bulk_create(
        ReviewMark(question=q, reviewed_by=by, reviewed_at=now, revision_number=_published_revision_number(q))
        for q in published
    )
    Question.objects.filter(pk__in=[q.pk for q in published]).update(reviewed_at=now, reviewed_by=by)
    pages_changed()
    return len(published)


def question_mark_reviewed(*, question: Question, by) -> bool:
    return questions_mark_reviewed(questions=Question.objects.filter(pk=question.pk), by=by) == 1
