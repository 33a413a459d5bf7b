"""Health probes: /healthz (liveness) and /healthz/ready (readiness), for load balancers,
Docker health checks and operators.

Liveness says only that this process serves requests (restart it if not). Readiness says
whether the site can work: HTTP 503 when the database or the broker is unreachable; a worker
pool with no live CPU worker is reported as "degraded" with 200, since pages still serve.

ProbeMiddleware (first in settings.MIDDLEWARE) answers these paths and /metrics before the
HTTPS redirect and the Host check: a probe inside the stack speaks plain HTTP to the
container's own address, which is neither HTTPS nor an allowed host.
"""

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.observability.metrics import metrics_view
from runner.workers import live_workers


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means unreachable; reported, not raised
        return False


def _broker_ok() -> bool:
    try:
        with current_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            client = getattr(conn.default_channel, "client", None)
            if client is not None:  # Redis connects lazily: ask it something
                client.ping()
        return True
    except Exception:  # any failure means unreachable; reported, not raised
        return False


@never_cache
@require_safe
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


@never_cache
@require_safe
def readiness(request: HttpRequest) -> JsonResponse:
    database, broker = _database_ok(), _broker_ok()
    workers = live_workers() if database else []
    pool = {
        "live": len(workers),
        "cpu": sum("cpu" in w.queues for w in workers),
        "gpu": sum("gpu" in w.queues for w in workers),
    }
    checks = {"database": database, "broker": broker, "workers": pool}
    status = "ok" if database and broker and pool["cpu"] else "degraded"
    return JsonResponse({"status": status, "checks": checks}, status=200 if database and broker else 503)


PROBES = {"/healthz": liveness, "/healthz/ready": readiness, "/metrics": metrics_view}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        response = view(request)
        add_never_cache_headers(response)
        return response
