"""/healthz: database, broker and worker pool, for load balancers and operators.

HTTP 503 when the database or the broker is unreachable (the site cannot work); a worker pool
with no live CPU worker is reported as "degraded" with 200, since pages still serve.
"""

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from runner.services import live_workers


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
def healthz(request: HttpRequest) -> JsonResponse:
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
