"""Server-side drafts of the answer editor: saved as the author types, offered back on the next
visit when they differ from what was saved, dropped when the question is saved."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .limits import answer_size_problem
from .models import AnswerDraft


class DraftRefused(ValueError):
    """A draft that cannot be kept; the message says why."""


def _lf(text: str) -> str:
    # A form post sends a textarea's line breaks as CRLF; the answer is kept with LF.
    return text.replace("\r\n", "\n")


def draft_save(*, author, question, body: str) -> AnswerDraft:
    body = _lf(body)
    if problem := answer_size_problem(body):
        raise DraftRefused(problem)
    if "\x00" in body:
        raise DraftRefused("The draft holds a NUL character, which an answer cannot contain.")
    for _attempt in range(2):  # two tabs saving at once: the second updates the first's row
        try:
            with transaction.atomic():
                draft, _ = AnswerDraft.objects.update_or_create(
                    author=author, question=question, defaults={"body": body}
                )
            return draft
        except IntegrityError:
            continue
    raise DraftRefused(
        "The draft could not be saved (another save of it was in progress). It will be saved again."
    )


def draft_for(*, author, question, saved_body: str) -> AnswerDraft | None:
    """The author's draft for this question when it holds something the saved answer does not."""
    draft = AnswerDraft.objects.filter(author=author, question=question).first()
    if draft is None or draft.body.strip() == _lf(saved_body or "").strip():
        return None
    return draft


def draft_discard(*, author, question) -> None:
    AnswerDraft.objects.filter(author=author, question=question).delete()
