"""Readers' "Was this helpful?": a plain form post on the (cached) question page, then, for a
"No", a live page asking why. Spam traps as the demo form's: a honeypot on both forms, a rate
limit per client, and the signed time trap on the only form that takes free text (the cached
page cannot carry a fresh time token; one vote per client per answer per day bounds the rest).
"""

from __future__ import annotations

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from answers.models import Answer
from config.client_address import client_address
from demo_requests import spam as traps

from . import services
from .forms import ReasonsForm, VoteForm
from .spam import rate_limit_hit

_VOTE_SALT = "feedback.vote"
VOTE_TOKEN_MAX_AGE_S = 24 * 3600
THANKS = "Thank you: your feedback helps us keep this answer right."
ALREADY = "You already told us about this answer today. Thank you."
RATE_LIMITED = "You have sent a lot of feedback in a few minutes. Please try again a little later."
TRAP_MESSAGES = {
    traps.TimeTrap.TOO_FAST: "That was quicker than we expected. Check your answer and send it again.",
    traps.TimeTrap.TOO_OLD: "This form was open for a long time. Check your answer and send it again.",
    traps.TimeTrap.INVALID: "Something went wrong with this form. Check your answer and send it again.",
    traps.TimeTrap.USED: "This form was sent already.",
}


def _answer(slug: str) -> Answer:
    answer = get_object_or_404(
        Answer.objects.select_related("question"), question__slug=slug, question__status="published"
    )
    if answer.published_revision_id is None:
        raise Http404("This answer is not published yet.")
    return answer


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(answer: Answer) -> str:
    return answer.question.get_absolute_url() + "#messages"


def _done(request: HttpRequest, answer: Answer, text: str, *, status: int = 200) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"message": text, "next": None}, status=status)
    if status == 200:
        messages.success(request, text)
    else:
        messages.warning(request, text)
    return redirect(_back(answer))


@require_POST
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    answer = _answer(slug)
    if rate_limit_hit(request):
        if _wants_json(request):
            return JsonResponse({"message": RATE_LIMITED, "next": None}, status=429)
        return render(request, "feedback/refused.html", {"answer": answer, "text": RATE_LIMITED}, status=429)
    if traps.honeypot_tripped(request.POST):
        return _done(request, answer, THANKS)  # a bot sees what a person sees; nothing is stored
    form = VoteForm(request.POST)
    if not form.is_valid():
        text = "Choose “Yes” or “No” to tell us whether this answer helped."
        if _wants_json(request):
            return JsonResponse({"message": text, "next": None}, status=400)
        return render(request, "feedback/refused.html", {"answer": answer, "text": text}, status=400)
    recorded = services.vote_record(answer=answer, helpful=form.is_helpful, address=client_address(request))
    if recorded is None:
        return _done(request, answer, ALREADY)
    if recorded.helpful:
        return _done(request, answer, THANKS)
    token = signing.dumps(recorded.pk, salt=_VOTE_SALT)
    why_url = reverse("feedback:why", args=[slug]) + "?" + f"vote={token}"
    if _wants_json(request):
        return JsonResponse({"message": "Thank you. What was wrong with it?", "next": why_url})
    return redirect(why_url)


def _vote_id(token: str) -> int | None:
    try:
        return int(signing.loads(token or "", salt=_VOTE_SALT, max_age=VOTE_TOKEN_MAX_AGE_S))
    except (signing.BadSignature, TypeError, ValueError):
        return None


def _render_why(
    request: HttpRequest, answer: Answer, form: ReasonsForm, *, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "feedback/why.html",
        {"answer": answer, "question": answer.question, "form": form},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def why(request: HttpRequest, slug: str) -> HttpResponse:
    answer = _answer(slug)
    if request.method != "POST":
        token = request.GET.get("vote", "")
        if _vote_id(token) is None or not answer.votes.filter(pk=_vote_id(token)).exists():
            return _expired(request, answer)
        form = ReasonsForm(initial={"vote": token, "started": traps.time_token_issue()})
        return _render_why(request, answer, form)

    if rate_limit_hit(request):
        return render(request, "feedback/refused.html", {"answer": answer, "text": RATE_LIMITED}, status=429)
    if traps.honeypot_tripped(request.POST):
        return _done(request, answer, THANKS)
    form = ReasonsForm(request.POST)
    if not form.is_valid():
        return _render_why(request, answer, form, status=400)
    vote_id = _vote_id(form.cleaned_data["vote"])
    if vote_id is None or not answer.votes.filter(pk=vote_id).exists():
        return _expired(request, answer)
    trap = traps.time_token_check(form.cleaned_data["started"])
    if trap is not traps.TimeTrap.OK:
        data = request.POST.copy()
        if trap is not traps.TimeTrap.TOO_FAST:
            data["started"] = traps.time_token_issue()
        form = ReasonsForm(data)
        form.is_valid()
        form.add_error(None, TRAP_MESSAGES[trap])
        return _render_why(request, answer, form, status=400)
    try:
        services.vote_explain(
            vote_id=vote_id, reasons=form.cleaned_data["reasons"], comment=form.cleaned_data["comment"]
        )
    except services.AlreadyExplained:
        return _done(request, answer, "You told us why already. Thank you.")
    return _done(request, answer, THANKS)


def _expired(request: HttpRequest, answer: Answer) -> HttpResponse:
    text = (
        "This link to tell us why is not valid any more. Your vote was counted; "
        "you can vote again on the answer tomorrow."
    )
    return render(request, "feedback/refused.html", {"answer": answer, "text": text}, status=400)
