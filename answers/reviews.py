"""Review before publishing: Draft -> In review -> Approved (published once it verifies).

Only a revision approved by someone with ``kb.can_publish`` reaches readers; verification still
gates it exactly as before (answers.services._publish_if_ready). Every step is a ReviewEvent.

A save while the question is in review keeps it in review with the new revision: the reviewer
always sees the latest revision against the published one, and an approval names the revision
it was given on, so approving a revision the reviewer did not see is refused (ReviewError).
"""

from __future__ import annotations

from django.db import transaction

from kb.models import Question
from kb.services import question_publish

from .models import Answer, ReviewEvent, Revision

PUBLISH_PERMISSION = "kb.can_publish"
COMMENT_MAX = 2000
State = Question.ReviewState
Action = ReviewEvent.Action


class ReviewError(Exception):
    """A review step that cannot be taken now; the message says why, for the person acting."""


def user_can_publish(user) -> bool:
    return user is not None and user.is_active and user.has_perm(PUBLISH_PERMISSION)


def review_after_save(*, answer: Answer, revision: Revision, by) -> None:
    """Record what a new revision means for the review (called by answer_save, in its transaction).

    A save by someone who may publish (or by a command, ``by=None``) approves the revision with
    the save, as every save did before review existed. Anyone else's save leaves the published
    revision in place: the question is a draft again, or stays in review with this revision.
    """
    question = answer.question
    if by is None or user_can_publish(by):
        answer.approved_revision = revision
        answer.save(update_fields=["approved_revision"])
        if by is not None and question.review_state != State.APPROVED:
            ReviewEvent.objects.create(
                question=question, revision=revision, action=Action.SAVED_BY_PUBLISHER, by=by
            )
        _set_state(question, State.APPROVED)
        return
    if question.review_state == State.IN_REVIEW:
        ReviewEvent.objects.create(question=question, revision=revision, action=Action.REVISED, by=by)
    else:
        _set_state(question, State.DRAFT)


def _set_state(question: Question, state: str) -> None:
    if question.review_state != state:
        question.review_state = state
        Question.objects.filter(pk=question.pk).update(review_state=state)


def _clean_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ReviewError(f"The comment is {len(comment)} characters long; at most {COMMENT_MAX}.")
    return comment


def _locked(question: Question) -> tuple[Question, Answer, Revision]:
    # The answer row first, then the question's: answer_save takes them in this order too, so a
    # save and a review step at the same moment wait for each other instead of deadlocking.
    answer = Answer.objects.select_for_update().filter(question_id=question.pk).first()
    question = Question.objects.select_for_update().get(pk=question.pk)
    latest = answer.revisions.order_by("-number").first() if answer is not None else None
    if latest is None:
        raise ReviewError("This question has no answer yet: write one first.")
    return question, answer, latest


def _check_seen(latest: Revision, revision_number: int | None) -> None:
    if revision_number != latest.number:
        raise ReviewError(
            f"Revision {latest.number} was saved after you opened this review: read it, then decide again."
        )


@transaction.atomic
def review_submit(*, question: Question, by, comment: str = "") -> ReviewEvent:
    comment = _clean_comment(comment)
    question, answer, latest = _locked(question)
    if question.review_state == State.IN_REVIEW:
        raise ReviewError("This question is in review already.")
    if question.review_state == State.APPROVED and answer.approved_revision_id == latest.pk:
        raise ReviewError("The latest revision is approved already: there is nothing to review.")
    _set_state(question, State.IN_REVIEW)
    return ReviewEvent.objects.create(
        question=question, revision=latest, action=Action.SUBMITTED, by=by, comment=comment
    )


@transaction.atomic
def review_request_changes(
    *, question: Question, by, revision_number: int | None, comment: str
) -> ReviewEvent:
    if not user_can_publish(by):
        raise ReviewError("Only a reviewer (who may publish) can request changes.")
    comment = _clean_comment(comment)
    if not comment:
        raise ReviewError("Say what should change: the comment is what the author reads.")
    question, answer, latest = _locked(question)
    if question.review_state != State.IN_REVIEW:
        raise ReviewError("This question is not in review.")
    _check_seen(latest, revision_number)
    _set_state(question, State.DRAFT)
    return ReviewEvent.objects.create(
        question=question, revision=latest, action=Action.CHANGES_REQUESTED, by=by, comment=comment
    )


@transaction.atomic
def review_approve(*, question: Question, by, revision_number: int | None, comment: str = "") -> ReviewEvent:
    """Approve the latest revision and publish the question: readers see it once it verifies."""
    from .services import answer_publish_approved

    if not user_can_publish(by):
        raise ReviewError("Only a reviewer (who may publish) can approve.")
    comment = _clean_comment(comment)
    question, answer, latest = _locked(question)
    if question.review_state == State.APPROVED and answer.approved_revision_id == latest.pk:
        raise ReviewError("The latest revision is approved already.")
    _check_seen(latest, revision_number)
    answer.approved_revision = latest
    answer.save(update_fields=["approved_revision"])
    _set_state(question, State.APPROVED)
    event = ReviewEvent.objects.create(
        question=question, revision=latest, action=Action.APPROVED, by=by, comment=comment
    )
    question_publish(question=question)
    answer.question = question
    answer_publish_approved(answer=answer)
    return event
