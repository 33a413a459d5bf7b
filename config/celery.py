import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fixup closes the database connection around every task unless this is set
# (it is read under its old name, not from CELERY_-namespaced settings); reconnecting cost
# ~8 ms per run here. Tasks that need it call close_old_connections() (CONN_MAX_AGE applies).
app.conf["CELERY_DB_REUSE_MAX"] = 500
