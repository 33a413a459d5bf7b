"""Writes to answers: every save renders once, keeps a revision, reindexes the question and
asks runner (through runner.services only) for a run of the cells."""

from django.db import transaction

from kb.models import Question
from kb.services import question_reindex
from runner import services as runner_services
from runner.specs import cell_to_json

from .models import Answer, Revision
from .rendering import render_answer


def _request_run(parsed, *, force: bool = False):
    if not parsed.cells:
        return None
    return runner_services.run_request(cells=[cell_to_json(c) for c in parsed.cells], force=force)


def _render(body: str, run):
    if run is None or not run.is_finished:
        return render_answer(body, run_status=run.status if run else None)
    return render_answer(
        body,
        results=runner_services.run_results(run=run),
        provenance=runner_services.run_provenance(run=run),
        run_status=run.status,
    )


@transaction.atomic
def answer_save(*, question: Question, body: str, by=None) -> Answer:
    """Create or update the answer; a new revision only when the Markdown changed.

    The answer row is locked so two staff saving at once get consecutive revision numbers
    instead of one overwriting the other's revision. Unchanged cells reuse their finished
    run (runner caches by execution key), so a prose-only edit executes nothing.
    """
    answer = Answer.objects.select_for_update().filter(question=question).first()
    if answer is not None and answer.body == body and answer.revisions.exists():
        return answer
    parsed = render_answer(body).parsed
    run = _request_run(parsed) if not parsed.errors else None
    rendered = _render(body, run)
    if answer is None:
        answer = Answer(question=question)
    answer.body = body
    answer.rendered_html = rendered.html
    answer.toc_html = rendered.toc_html
    answer.authoring_errors = [{"line": e.line, "message": e.message} for e in parsed.errors]
    answer.cells_key = parsed.cells_key
    answer.cell_count = len(parsed.cells)
    answer.run = run
    answer.updated_by = by
    answer.save()
    last = answer.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    Revision.objects.create(answer=answer, number=last + 1, body=body, created_by=by, run=run)
    question_reindex(question=question, document=rendered.text)
    return answer


def answer_verify(*, answer: Answer, force: bool = False) -> Answer:
    """Ask for a run of the answer's current cells; with force, past the cache."""
    parsed = render_answer(answer.body).parsed
    if parsed.errors:
        return answer
    with transaction.atomic():
        run = _request_run(parsed, force=force)
        answer.run = run
        answer.save(update_fields=["run"])
        latest = answer.revisions.order_by("-number").first()
        if latest is not None:
            latest.run = run
            latest.save(update_fields=["run"])
    answer_rerender(answer=answer)
    return answer


def answer_rerender(*, answer: Answer) -> None:
    """Store the HTML again with the run's outputs in place (no new revision)."""
    rendered = _render(answer.body, answer.run)
    Answer.objects.filter(pk=answer.pk).update(rendered_html=rendered.html, toc_html=rendered.toc_html)


def answers_refresh_for_run(*, run_id: int) -> int:
    """Called when a run finishes: every answer showing that run gets its outputs rendered."""
    answers = list(Answer.objects.filter(run_id=run_id).select_related("run"))
    for answer in answers:
        answer_rerender(answer=answer)
    return len(answers)
