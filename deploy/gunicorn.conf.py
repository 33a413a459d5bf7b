"""gunicorn settings for the web container (docker-compose.yml)."""

import os
import shutil

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = 60
# nginx logs every request; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
forwarded_allow_ips = "*"  # only nginx (same private network) reaches this port


def on_starting(server):
    # prometheus-client multi-process files of processes from an earlier start are stale.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
