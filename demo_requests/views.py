import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import selectors, services, spam
from .forms import DemoRequestForm

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "We could not save your request just now (our database is unavailable); nothing was sent. "
    "Your details are still here: please send the form again in a few minutes."
)
TRAP_MESSAGES = {
    spam.TimeTrap.TOO_FAST: "That was quicker than we expected. Check your details and send the form again.",
    spam.TimeTrap.TOO_OLD: "This form was open for a long time. Check your details and send it again.",
    spam.TimeTrap.INVALID: "Something went wrong with this form. Check your details and send it again.",
    spam.TimeTrap.USED: "This form was sent already. To send another request, check and send it again.",
}


def _render_form(request: HttpRequest, form: DemoRequestForm, *, status: int = 200) -> HttpResponse:
    source_slug = form["source"].value() or ""
    context = {"form": form, "source": selectors.source_question_get(slug=source_slug)}
    return render(request, "demo_requests/form.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def demo_request(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        form = DemoRequestForm(
            initial={"source": request.GET.get("from", "")[:200], "started": spam.time_token_issue()}
        )
        return _render_form(request, form)

    if spam.rate_limit_hit(request):
        return render(request, "demo_requests/rate_limited.html", status=429)
    if spam.honeypot_tripped(request.POST):
        # A bot sees the same thank-you page as a person, and nothing is stored or sent.
        return redirect("demo_requests:thanks")

    form = DemoRequestForm(request.POST)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    trap = spam.time_token_check(form.cleaned_data["started"])
    if trap is not spam.TimeTrap.OK:
        data = request.POST.copy()
        if trap is not spam.TimeTrap.TOO_FAST:  # a fresh token; too fast keeps the first one
            data["started"] = spam.time_token_issue()
        form = DemoRequestForm(data)
        form.is_valid()
        form.add_error(None, TRAP_MESSAGES[trap])
        return _render_form(request, form, status=400)

    data = form.cleaned_data
    try:
        services.demo_request_create(
            name=data["name"],
            email=data["email"],
            company=data["company"],
            role=data["role"],
            message=data["message"],
            consent_to_contact=data["consent"],
            source_slug=data["source"],
        )
    except (OperationalError, InterfaceError):
        # The database is away: say so with 503 and give the visitor's text back in the form,
        # with a token they can send again at once.
        logger.exception("Database unavailable; demo request not saved, visitor asked to resend")
        return _unavailable(request)
    return redirect("demo_requests:thanks")


def _unavailable(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    data["started"] = spam.time_token_issue(issued_at=time.time() - settings.DEMO_REQUEST_MIN_SECONDS)
    form = DemoRequestForm(data)
    form.is_valid()
    form.add_error(None, UNAVAILABLE_MESSAGE)
    try:
        return _render_form(request, form, status=503)
    except (OperationalError, InterfaceError):  # even the source article cannot be looked up
        return render(request, "demo_requests/form.html", {"form": form, "source": None}, status=503)


@require_safe
def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "demo_requests/thanks.html")
