"""Production settings refuse to start without secrets and pass `check --deploy`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-random-test-value-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "kb.example.com",
    "DATABASE_URL": "postgres://kb:secret@db:5432/kb",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "REDIS_URL": "redis://redis:6379/1",
    "SITE_URL": "https://kb.example.com",
    "METRICS_TOKEN": "a-metrics-test-token",
}


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_database_broker_or_site_url():
    for missing in ("DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL"):
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0 and f"{missing} must be set" in result.stderr


def test_production_refuses_to_start_without_a_metrics_token():
    """Unset, /metrics was public to everything on the stack's network."""
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "METRICS_TOKEN"}
    for value in (None, ""):
        result = _manage("check", env=env if value is None else {**env, "METRICS_TOKEN": value})
        assert result.returncode != 0 and "METRICS_TOKEN must be set" in result.stderr


def test_every_production_configuration_sets_a_metrics_token():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("web", "worker-cpu", "worker-gpu", "beat", "migrate"):
        token = compose["services"][name]["environment"]["METRICS_TOKEN"]
        assert token == "${METRICS_TOKEN:?set METRICS_TOKEN}", name
    assert "\nMETRICS_TOKEN=CHANGE-ME\n" in (ROOT / ".env.example").read_text()
    assert "METRICS_TOKEN=" in (ROOT / "Dockerfile").read_text()
    deploy = ROOT / "tests" / "deploy"
    stack, smoke = (deploy / "compose_stack.py").read_text(), (deploy / "smoke.py").read_text()
    assert '"METRICS_TOKEN": secrets.token_urlsafe(24)' in stack  # every stack the tests bring up
    assert '"METRICS_TOKEN": secrets.token_urlsafe(24)' in smoke  # the smoke test's bare worker


def test_docker_compose_defines_the_services_from_the_design():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker-cpu", "worker-gpu", "beat"}
    assert services["worker-cpu"]["command"][:2] == ["deploy/worker", "cpu"]
    assert services["worker-gpu"]["command"][:2] == ["deploy/worker", "gpu"]
    assert '-Q "$queue"' in (ROOT / "deploy" / "worker").read_text()
    assert services["worker-gpu"]["profiles"] == ["gpu"], "up must work on a machine without a GPU"
    gpu = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    for name in ("web", "worker-cpu", "worker-gpu", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_DEBUG"] == "0"
        assert env["DJANGO_SECRET_KEY"].startswith("${"), "secrets come from the environment, not the file"
    for port in services["web"].get("ports", []):
        assert str(port).startswith("127.0.0.1:")


def test_dockerfile_runs_as_an_unprivileged_user_with_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# syntax=") or dockerfile.startswith("FROM python:3.11")
    assert "--require-hashes" in dockerfile and "-r /tmp/requirements.lock" in dockerfile
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
    assert "torch==2.13.0+cpu \\\n    --hash=sha256:" in (ROOT / "requirements.lock").read_text()
    assert "\nUSER " in dockerfile
    assert "collectstatic" in dockerfile


def _pins(lock: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", (ROOT / lock).read_text(), re.M))


def test_the_gpu_lock_is_the_runtime_lock_with_the_cuda_build_of_torch():
    """The GPU worker image installs requirements-gpu.lock (docker-compose.yml, worker-gpu): the
    same packages at the same versions as the CPU image, except torch, which is PyPI's CUDA
    build with NVIDIA's libraries. A runtime lock changed without `bin/lock --gpu` fails here."""
    runtime, gpu = _pins("requirements.lock"), _pins("requirements-gpu.lock")
    assert runtime.pop("torch") == "2.13.0+cpu" and gpu.pop("torch") == "2.13.0"
    drifted = {name: (pin, gpu.get(name)) for name, pin in runtime.items() if gpu.get(name) != pin}
    assert not drifted, f"re-run bin/lock --gpu: {drifted}"
    assert any(name.startswith("nvidia-cuda-runtime") for name in gpu), sorted(gpu)
    assert "--hash=sha256:" in (ROOT / "requirements-gpu.lock").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    gpu_service = compose[compose.index("  worker-gpu:") : compose.index("  beat:")]
    assert "LOCK_FILE: requirements-gpu.lock" in gpu_service
    assert "TORCH_INDEX_URL: https://pypi.org/simple" in gpu_service


def test_a_gpu_worker_without_a_cuda_device_refuses_to_start():
    """deploy/worker (the compose services' command) on a machine with no usable CUDA device:
    the gpu worker stops with the reason before it could take (and fail) device=cuda answers."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["deploy/worker", "gpu", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "Refusing to start: this gpu worker sees no CUDA device" in done.stderr
    assert "NVIDIA driver >= 580" in done.stderr


def test_the_dockerfile_collectstatic_step_writes_the_manifest_production_needs(tmp_path):
    """The Dockerfile's collectstatic runs with production settings: whitenoise's manifest storage
    raises on every page without staticfiles.json."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    step = dockerfile[dockerfile.index("RUN DJANGO_DEBUG=") : dockerfile.index("collectstatic")]
    env = dict(part.split("=", 1) for part in step.replace("\\\n", " ").split()[1:] if "=" in part)
    assert env["DJANGO_DEBUG"] == "0"
    result = _manage(
        "collectstatic",
        "--noinput",
        env={
            "PATH": os.environ["PATH"],
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "STATIC_ROOT": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").exists()


def _tryit_store_url(env: dict) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.TRYIT_STORE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_try_it_store_is_redis_when_there_is_one_and_sqlite_only_in_development(tmp_path):
    assert _tryit_store_url(PRODUCTION_ENV) == "redis://redis:6379/1"
    without_redis = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}
    assert _tryit_store_url(without_redis) == ""  # production: none, so try-it is unavailable
    development = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    development.update(DJANGO_DEBUG="1", KB_VAR_DIR=str(tmp_path))  # what bin/run sets
    assert _tryit_store_url(development) == f"sqlite://{tmp_path}/tryit.sqlite3"
    assert _tryit_store_url({**development, "TRYIT_STORE_URL": "redis://elsewhere:6379/3"}) == (
        "redis://elsewhere:6379/3"
    )
