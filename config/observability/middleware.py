"""A request id on every request and response, and the request counters of /metrics."""

import re
import time
import uuid

from . import context, metrics

# nginx sends $request_id (32 hex digits); anything else is replaced, never logged raw.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = context.request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unresolved"
        metrics.observe_request(
            method=request.method,
            view=view,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        response["X-Request-ID"] = request_id
        return response
