"""A worker that cannot isolate cells refuses to start in production; the page never calls
an unisolated run sandboxed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from runner.engine.isolation import REQUIRED_LAYERS, isolation_missing, probe_isolation
from runner.isolation_policy import run_isolated, run_layers_missing

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "isolation-test-" + "k" * 40,
    "METRICS_TOKEN": "isolation-test-metrics-token",
    "DJANGO_ALLOWED_HOSTS": "kb.example.com",
    "SITE_URL": "https://kb.example.com",
    "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",  # never reached: the check comes first
    "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
}
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)


@needs_root
def test_the_probe_finds_every_layer_on_this_machine():
    facts = probe_isolation()
    assert isolation_missing(facts) == [], facts


def _worker_without_sys_admin(**env) -> subprocess.CompletedProcess:
    """A real `celery worker`, started as root but without CAP_SYS_ADMIN (as in a container
    started without the capability): it cannot create namespaces."""
    command = [
        "setpriv",
        "--bounding-set=-sys_admin",
        "--",
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        "cpu",
        "--concurrency",
        "1",
        "--hostname",
        "isolation-test@%h",
    ]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
    environ.update(PRODUCTION_ENV, **env)
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


@needs_root
def test_a_production_worker_without_isolation_refuses_to_start():
    done = _worker_without_sys_admin()
    assert done.returncode != 0
    assert "Refusing to start: this worker cannot isolate cells" in done.stderr
    assert "net namespace" in done.stderr and "SYS_ADMIN" in done.stderr


def test_unisolated_runs_are_refused_in_production_settings():
    environ = {**os.environ, **PRODUCTION_ENV, "RUNNER_ALLOW_UNISOLATED": "1"}
    code = "import django; django.setup()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)
    assert done.returncode != 0 and "RUNNER_ALLOW_UNISOLATED is for development only" in done.stderr


ISOLATED = {"namespaces": {n: True for n in ("pid", "net", "mount", "ipc", "uts")}, "uid": 65534}
UNISOLATED = {"namespaces": {n: False for n in ("pid", "net", "mount", "ipc", "uts")}, "uid": 1000}
AS_ROOT = {**ISOLATED, "uid": 0}


def test_run_isolation_from_its_sandbox_facts():
    assert run_isolated(ISOLATED)
    assert not run_isolated(UNISOLATED)
    assert not run_isolated(AS_ROOT)
    assert not run_isolated({})


ALL_LAYERS = {layer: True for layer in REQUIRED_LAYERS}


def test_a_run_without_a_namespace_or_as_root_is_not_isolated_and_one_without_the_fresh_root_is_partly():
    # A run's facts as the cell runner reports them (runner.engine.child.layers_of).
    assert run_isolated({**ISOLATED, "layers": ALL_LAYERS})
    assert run_layers_missing({**ISOLATED, "layers": ALL_LAYERS}) == []
    for layer in ("net namespace", "pid namespace", "unprivileged user"):
        facts = {**ISOLATED, "layers": {**ALL_LAYERS, layer: False}}
        assert not run_isolated(facts), layer
        assert isolation_missing(facts) == [layer]
    for layer in ("fresh root", "seccomp", "private /tmp"):
        facts = {**ISOLATED, "layers": {**ALL_LAYERS, layer: False}}
        assert run_isolated(facts) and run_layers_missing(facts) == [layer], layer
        assert isolation_missing(facts) == [layer]  # what a production worker refuses to start on


def test_the_probe_says_why_a_layer_is_off():
    report = {
        "layers": {**ALL_LAYERS, "fresh root": False},
        "errors": {"fresh root": "pivot_root: Operation not permitted"},
    }
    assert isolation_missing(report) == ["fresh root (pivot_root: Operation not permitted)"]


def _badge(sandbox: dict) -> str:
    now = timezone.now()
    provenance = {
        "run_id": 1,
        "finished_at": now,
        "started_at": now,
        "python": "3.11",
        "torch": "2.13.0",
        "device_name": "CPU",
        "device": "cpu",
        "duration_s": 1.0,
        "sandbox": sandbox,
        "isolated": run_isolated(sandbox),
        "layers_missing": run_layers_missing(sandbox),
    }
    return render_to_string(
        "answers/provenance.html", {"provenance": provenance, "run_status": "verified", "cell_count": 1}
    )


def test_the_badge_never_calls_an_unisolated_run_sandboxed():
    unisolated = _badge(UNISOLATED)
    assert (
        '<strong>Verified</strong> <strong class="provenance__unisolated">without sandbox isolation'
        in unisolated
    )
    assert "the cells ran unisolated" in unisolated
    isolated = _badge(ISOLATED)
    assert "without sandbox isolation" not in isolated and "unisolated" not in isolated
    assert "net namespace on" in isolated
    assert "partial" not in _badge({**ISOLATED, "layers": ALL_LAYERS})


def test_the_badge_names_what_a_partly_isolated_run_lacked():
    # A container run before the worker's seccomp profile allowed pivot_root.
    partly = _badge({**ISOLATED, "layers": {**ALL_LAYERS, "fresh root": False}})
    assert "without sandbox isolation" not in partly
    assert '<strong class="provenance__unisolated">in a partial sandbox</strong> (no fresh root)' in partly
    assert "partial: own namespaces and an unprivileged user, but no fresh root" in partly
    assert "fresh root unavailable" in partly
