"""Writes to answers. Every save renders once, keeps a revision, reindexes the question and
asks runner (through runner.services; a run is read back through runner.results) for a run of
the cells. What readers see changes only when a revision verifies, or when staff publish it by
override."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from kb.models import Question
from kb.page_cache import pages_changed
from kb.services import question_reindex
from runner import results as runner_results
from runner import services as runner_services
from runner.engine.specs import cell_to_json

from .approvals import with_approvals
from .cells import ParsedAnswer, parse_answer
from .datafiles import data_files_of
from .limits import AnswerTooLarge, answer_size_problem
from .models import Answer, Revision
from .rendering import RenderedAnswer, render_answer
from .reviews import review_after_save

logger = logging.getLogger(__name__)


def _request_run(
    parsed: ParsedAnswer, *, question: Question, force: bool = False, twice: bool = False, reference=None
):
    if not parsed.cells or parsed.errors:
        return None
    # Each cell carries its approved figures; a new revision runs twice; a
    # re-verification carries the verified run's outputs to compare with.
    cells = with_approvals([cell_to_json(c) for c in parsed.cells], question=question)
    if reference is not None:
        stored = runner_results.run_reference(run=reference)
        cells = [{**c, "reference": stored[c["index"]]} if c["index"] in stored else c for c in cells]
    # The data files' content hashes join the execution key: a changed file runs the cells again.
    files = data_files_of(question=question)
    return runner_services.run_request(cells=cells, force=force, twice=twice, files=files)


def _render(body: str, run) -> RenderedAnswer:
    if run is None or not run.is_finished:
        return render_answer(body, run_status=run.status if run else None)
    return render_answer(
        body,
        results=runner_results.run_results(run=run),
        provenance=runner_results.run_provenance(run=run),
        run_status=run.status,
    )


def _is_verified(answer: Answer) -> bool:
    if answer.authoring_errors:
        return False
    if answer.cell_count == 0:
        return True  # prose only: nothing to run, nothing unverified to show
    return answer.run is not None and answer.run.status == "verified"


def _latest_revision(answer: Answer) -> Revision | None:
    return answer.revisions.order_by("-number").first()


def _publish_if_ready(answer: Answer, *, text: str | None = None) -> None:
    """Show the current revision to readers if it verified, or if staff chose to override.

    A revision that fails leaves the last verified one in place, and so does search: only the
    published revision's text is indexed. `text` is the plain text of the
    current revision when the caller has just rendered it.
    """
    latest = _latest_revision(answer)
    if latest is None or answer.approved_revision_id != latest.pk:
        return  # not approved by a reviewer yet: readers keep the published revision
    verified = _is_verified(answer)
    if not verified and not answer.question.allow_unverified:
        return
    if not verified and answer.run is not None and not answer.run.is_finished:
        return  # override, but let the run finish first so readers see its real outputs
    answer.published_revision = latest
    answer.published_html = answer.rendered_html
    answer.published_toc_html = answer.toc_html
    answer.published_verified = verified
    answer.published_run = answer.run
    if verified:
        answer.stopped_passing_at = None
    answer.save(
        update_fields=[
            "published_revision",
            "published_html",
            "published_toc_html",
            "published_verified",
            "published_run",
            "stopped_passing_at",
        ]
    )
    if text is None:
        text = _render(answer.body, answer.run).text
    code = "\n".join(cell.code for cell in parse_answer(answer.body).cells)
    question_reindex(question=answer.question, document=text, code=code)
    pages_changed()


@transaction.atomic
def answer_save(*, question: Question, body: str, by=None) -> Answer:
    """Create or update the answer; a new revision only when the Markdown changed.

    The answer row is locked so two staff saving at once get consecutive revision numbers
    instead of one overwriting the other's revision. Unchanged cells reuse their finished
    run (runner caches by execution key), so a prose-only edit executes nothing. Markdown over
    the caps of answers/limits.py raises AnswerTooLarge and saves nothing.
    """
    answer = Answer.objects.select_for_update().filter(question=question).first()
    if answer is not None and answer.body == body and answer.revisions.exists():
        return answer
    # The forms and importers say so first; this keeps any other caller inside the caps too.
    if problem := answer_size_problem(body):
        raise AnswerTooLarge(problem)
    parsed = parse_answer(body)
    run = _request_run(parsed, question=question, twice=True)
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
    revision = Revision.objects.create(answer=answer, number=last + 1, body=body, created_by=by, run=run)
    review_after_save(answer=answer, revision=revision, by=by)
    _publish_if_ready(answer, text=rendered.text)
    return answer


def answer_verify(*, answer: Answer, force: bool = False, reference=None, twice: bool = False) -> Answer:
    """Ask for a run of the answer's current cells; with force, past the cache.

    ``reference``: a verified run of the same cells whose outputs the new run must reproduce.
    """
    parsed = parse_answer(answer.body)
    if parsed.errors or not parsed.cells:
        return answer
    with transaction.atomic():
        run = _request_run(parsed, question=answer.question, force=force, reference=reference, twice=twice)
        answer.run = run
        answer.save(update_fields=["run"])
        Revision.objects.filter(pk=getattr(_latest_revision(answer), "pk", None)).update(run=run)
        answer_refresh(answer=answer)
    return answer


def answer_refresh(*, answer: Answer) -> None:
    """Store the staff view again with the run's outputs in place, and publish if ready."""
    rendered = _render(answer.body, answer.run)
    answer.rendered_html, answer.toc_html = rendered.html, rendered.toc_html
    answer.save(update_fields=["rendered_html", "toc_html"])
    run = answer.run
    # Only a run that failed on its cells: an infrastructure fault ("fault") says
    # nothing about the answer, so it never counts as the answer having stopped passing.
    if run is not None and run.status == "failed" and _republishing(answer):
        answer.stopped_passing_at = answer.stopped_passing_at or timezone.now()
        answer.save(update_fields=["stopped_passing_at"])
        transaction.on_commit(lambda: _notify_stopped_passing(answer.pk))
    _publish_if_ready(answer, text=rendered.text)


def _republishing(answer: Answer) -> bool:
    """True when the failing run re-checked what readers already see (no edit since)."""
    published = answer.published_revision
    return published is not None and published.body == answer.body and answer.published_verified


def _notify_stopped_passing(answer_id: int) -> None:
    from .tasks import notify_stopped_passing

    try:
        notify_stopped_passing.delay(answer_id)
    except Exception:  # broker down: the admin list still shows it under "stopped passing"
        logger.exception("could not queue the stopped-passing e-mail for answer %s", answer_id)


def answers_refresh_for_run(*, run_id: int) -> int:
    """Called when a run finishes: every answer showing that run gets its outputs rendered."""
    answers = list(
        Answer.objects.filter(run_id=run_id).select_related("run", "question", "published_revision")
    )
    for answer in answers:
        answer_refresh(answer=answer)
    return len(answers)


def answer_publish_override(*, answer: Answer) -> None:
    """Staff chose to show the current revision even though it did not verify (if approved)."""
    _publish_if_ready(answer)


def answer_publish_approved(*, answer: Answer) -> None:
    """A reviewer approved the latest revision: show it now if it verified, else when it does."""
    _publish_if_ready(answer)
