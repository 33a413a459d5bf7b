import os
import warnings

from celery import Celery
from celery.exceptions import SecurityWarning

# A worker runs as root on purpose: the cell sandbox needs root to unshare namespaces and drop
# each cell to its own unprivileged uid (README, "The sandbox"; docker-compose.yml, x-sandbox),
# so no task runs with the worker's privileges. Celery's warning about it
# (celery.platforms.check_privileges) is silenced; its refusal stays, for a worker that would
# accept pickle (CELERY_ACCEPT_CONTENT is JSON only).
warnings.filterwarnings(
    "ignore", message="You're running the worker with superuser", category=SecurityWarning
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fixup closes the database connection around every task unless this is set
# (it is read under its old name, not from CELERY_-namespaced settings); reconnecting cost
# ~8 ms per run here. Tasks that need it call close_old_connections() (CONN_MAX_AGE applies).
app.conf["CELERY_DB_REUSE_MAX"] = 500
