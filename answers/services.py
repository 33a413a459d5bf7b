"""Writes to answers: every save renders once, keeps a revision and reindexes the question."""

from django.db import transaction

from kb.models import Question
from kb.services import question_reindex

from .models import Answer, Revision
from .rendering import render_answer


@transaction.atomic
def answer_save(*, question: Question, body: str, by=None) -> Answer:
    """Create or update the answer; a new revision only when the Markdown changed.

    The answer row is locked so two staff saving at once get consecutive revision numbers
    instead of one overwriting the other's revision.
    """
    answer = Answer.objects.select_for_update().filter(question=question).first()
    if answer is not None and answer.body == body and answer.revisions.exists():
        return answer
    rendered = render_answer(body)
    if answer is None:
        answer = Answer(question=question)
    answer.body = body
    answer.rendered_html = rendered.html
    answer.toc_html = rendered.toc_html
    answer.authoring_errors = [{"line": e.line, "message": e.message} for e in rendered.parsed.errors]
    answer.cells_key = rendered.parsed.cells_key
    answer.cell_count = len(rendered.parsed.cells)
    answer.updated_by = by
    answer.save()
    last = answer.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    Revision.objects.create(answer=answer, number=last + 1, body=body, created_by=by)
    question_reindex(question=question, document=f"{rendered.text}")
    return answer


def answer_rerender(*, answer: Answer) -> None:
    """Re-render stored HTML (after a template or renderer change) without a new revision."""
    rendered = render_answer(answer.body)
    Answer.objects.filter(pk=answer.pk).update(rendered_html=rendered.html, toc_html=rendered.toc_html)
