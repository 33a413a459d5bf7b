from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import services
from .forms import ConsentForm


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("kb:question_list")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def consent_settings(request: HttpRequest) -> HttpResponse:
    """The cookie settings panel. The banner's buttons post here too, so it works without JS."""
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if not form.is_valid():
            context = {
                "next": _safe_next(request, request.POST.get("next")),
                "invalid": True,
                "hide_consent_banner": True,
            }
            return render(request, "consent/settings.html", context, status=400)
        record = services.consent_record(
            action=form.cleaned_data["action"],
            analytics=form.cleaned_data["analytics"],
            gpc=request.consent.gpc,
        )
        response = redirect(_safe_next(request, form.cleaned_data["next"]))
        request.consent = services.consent_cookie_set(response=response, record=record)
        return response
    context = {
        "next": _safe_next(request, request.GET.get("next")),
        "policy_version": settings.CONSENT_POLICY_VERSION,
        "hide_consent_banner": True,  # this page is the panel itself
    }
    return render(request, "consent/settings.html", context)
