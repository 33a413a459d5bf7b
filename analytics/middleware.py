import logging

from django.conf import settings

from . import services

logger = logging.getLogger(__name__)

ANALYTICS_COOKIE = "kb_analytics"
ARTICLE_VIEW = "kb:question"


class ArticleViewMiddleware:
    """Counts article views for visitors whose consent allows analytics, and nobody else.

    Placed after consent.middleware.ConsentMiddleware. The analytics cookie (a random id used
    only to count distinct visitors per day) exists only while analytics are allowed: it is
    deleted in the response that withdraws consent, and whenever consent is missing, outdated
    or overridden by Global Privacy Control.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        consent = getattr(request, "consent", None)
        allowed = consent is not None and consent.analytics_allowed
        visitor_id = request.COOKIES.get(ANALYTICS_COOKIE)
        if not allowed:
            if visitor_id is not None:
                response.delete_cookie(ANALYTICS_COOKIE, samesite="Lax")
            return response
        if not visitor_id or len(visitor_id) > 64:
            visitor_id = services.visitor_id_new()
            response.set_cookie(
                ANALYTICS_COOKIE,
                visitor_id,
                max_age=settings.ANALYTICS_COOKIE_MAX_AGE_S,
                secure=settings.CONSENT_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        match = request.resolver_match
        if (
            request.method == "GET"
            # 304: the reader's browser shows the page it has, revalidated: still a view.
            and response.status_code in (200, 304)
            and match is not None
            and match.view_name == ARTICLE_VIEW
        ):
            try:
                services.article_view_record(slug=match.kwargs.get("slug", ""), visitor_id=visitor_id)
            except Exception:  # counting must never break the page a reader asked for
                logger.exception("Could not count a view of %s", match.kwargs.get("slug"))
        return response
