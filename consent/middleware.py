from django.conf import settings
from django.utils.cache import patch_vary_headers

from .policy import COOKIE_NAME, consent_parse, gpc_from_headers


class ConsentMiddleware:
    """Puts the visitor's consent on `request.consent` for views, templates and analytics.

    Code that runs optional features checks `request.consent.analytics_allowed`; the consent
    view replaces `request.consent` when a new choice is saved, so later middleware (analytics)
    acts on the new choice in the same response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.consent = consent_parse(
            cookie=request.COOKIES.get(COOKIE_NAME),
            current_version=settings.CONSENT_POLICY_VERSION,
            gpc=gpc_from_headers(request.headers),
        )
        response = self.get_response(request)
        # The banner depends on the cookie and on Global Privacy Control.
        patch_vary_headers(response, ["Cookie", "Sec-GPC"])
        return response
