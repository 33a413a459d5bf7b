"""Reader-facing views of answers: run again, its progress and results, notebook download."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from config.client_address import client_key
from runner import results as runner_results

from .approvals import approved_figure_images
from .models import Answer, Reproduction
from .notebooks import answer_to_notebook
from .reproduce import ReproduceRefused, reproduction_comparison, reproduction_start


def _published_answer(slug: str) -> Answer:
    answer = get_object_or_404(
        Answer.objects.select_related("question", "published_revision", "published_run"),
        question__slug=slug,
        question__status="published",
    )
    if answer.published_revision is None:
        raise Http404("This answer has not been verified yet.")
    return answer


@require_POST
def run_again(request: HttpRequest, slug: str) -> HttpResponse:
    answer = _published_answer(slug)
    try:
        reproduction = reproduction_start(answer=answer, client=client_key(request))
    except ReproduceRefused as refusal:
        messages.warning(request, str(refusal))
        # Land on the message itself (top of the page), not on the button ~6,000 px below it.
        return redirect(answer.question.get_absolute_url() + "#messages")
    return redirect("answers:reproduction", slug=slug, pk=reproduction.pk)


def _reproduction(slug: str, pk: int) -> Reproduction:
    return get_object_or_404(
        Reproduction.objects.select_related("answer__question", "run", "verified_run"),
        pk=pk,
        answer__question__slug=slug,
        answer__question__status="published",
    )


@require_safe
def reproduction_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    reproduction = _reproduction(slug, pk)
    rows = reproduction_comparison(reproduction=reproduction) if reproduction.run.is_finished else []
    context = {
        "reproduction": reproduction,
        "question": reproduction.answer.question,
        "run": reproduction.run,
        "rows": rows,
        "all_same": bool(rows) and all(row["same"] for row in rows),
        "provenance": runner_results.run_provenance(run=reproduction.run),
    }
    return render(request, "answers/reproduction.html", context)


@require_safe
def reproduction_status(request: HttpRequest, slug: str, pk: int) -> JsonResponse:
    run = _reproduction(slug, pk).run
    return JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "finished": run.is_finished,
            "cells_done": run.cells_done,
            "cell_count": run.cell_count,
        }
    )


@require_safe
def notebook_download(request: HttpRequest, slug: str) -> HttpResponse:
    answer = _published_answer(slug)
    run = answer.published_run
    results = runner_results.run_results(run=run) if run else {}
    figures = runner_results.run_figure_images(run=run) if run else {}
    notebook = answer_to_notebook(
        title=answer.question.title,
        body=answer.published_revision.body,
        results=results,
        figures=figures,
        approved=approved_figure_images(question=answer.question),
    )
    response = HttpResponse(notebook, content_type="application/x-ipynb+json")
    response["Content-Disposition"] = f'attachment; filename="{slugify(answer.question.slug)}.ipynb"'
    return response
