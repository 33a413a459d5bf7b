"""When cells may run without the sandbox, and what the page may say about a run's isolation.

Workers refuse to run cells unisolated in production: a reader must be able to trust that an
answer's code could not reach the host.

The check runs once when a worker starts (runner/tasks.py, worker_init). In development
(RUNNER_ALLOW_UNISOLATED, on only with DJANGO_DEBUG) it warns and the worker starts; the
runs it makes then show as unisolated on the page (run_isolated is False).
"""

from __future__ import annotations

import logging

from django.conf import settings

from .engine.isolation import CORE_LAYERS, isolation_missing, probe_isolation

logger = logging.getLogger(__name__)

HOW_TO_FIX = (
    "Run the worker as root inside its container with the capabilities SYS_ADMIN, SETUID, SETGID, "
    "KILL, CHOWN and DAC_OVERRIDE, AppArmor unconfined and the seccomp profile "
    "deploy/seccomp-worker.json (docker-compose.yml, x-sandbox; docs/deploy.md), or as root on a "
    "machine whose kernel allows namespaces, pivot_root and seccomp (libseccomp2 installed)."
)


class IsolationUnavailable(SystemExit):
    """Stops the worker process: a SystemExit, so Celery's signal dispatch does not swallow it."""


def worker_isolation_check() -> dict:
    """Probe the sandbox; refuse to start (IsolationUnavailable) when it cannot isolate cells."""
    facts = probe_isolation(uid=settings.RUNNER_SANDBOX_UID_BASE)
    missing = isolation_missing(facts)
    if not missing:
        logger.info("cell isolation available: %s", facts)
        return facts
    summary = ", ".join(missing)
    if settings.RUNNER_ALLOW_UNISOLATED:
        logger.warning("cells will run UNISOLATED (development only): missing %s", summary)
        return facts
    message = f"Refusing to start: this worker cannot isolate cells (missing: {summary}). {HOW_TO_FIX}"
    logger.critical(message)
    raise IsolationUnavailable(message)


def run_isolated(sandbox_facts: dict) -> bool:
    """Did a finished run's cells run isolated (own namespaces, an unprivileged uid)? The page
    must not call a run sandboxed otherwise ("Verified without sandbox isolation")."""
    return bool(sandbox_facts) and not isolation_missing(sandbox_facts, required=CORE_LAYERS)


def run_layers_missing(sandbox_facts: dict) -> list[str]:
    """The other required layers an isolated run lacked (a worker before the fresh root worked in
    containers, say): the page then says "in a partial sandbox" and names them."""
    if not run_isolated(sandbox_facts):
        return []
    return isolation_missing(sandbox_facts)
