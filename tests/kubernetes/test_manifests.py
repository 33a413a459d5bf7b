"""deploy/kubernetes/ renders, validates, and says what docs/operations.md says it does.
No cluster: kubectl renders, the schemas judge."""

import re

import jsonschema
import kubernetes_validate
import pytest
import yaml

from runner.selectors import queue_backlog_sql
from runner.tasks import RUN_TIME_LIMIT_S

from .manifests import OVERLAYS, ROOT, find, render, validate

WORKER_QUEUES = ("cpu", "gpu")
# compose's x-sandbox grants (docker-compose.yml), which the pods must match exactly.
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_every_overlay_validates(overlay):
    objects = render(overlay)
    assert len(objects) > 15
    for obj in objects:
        try:
            validate(obj)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {error}")


def test_the_validators_refuse_a_mistyped_field():
    """Not a check that passes on anything: a typo in a Deployment or a ScaledObject fails."""
    deployment = dict(find(render("dev"), "Deployment", "web"))
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = dict(find(render("dev"), "ScaledObject", "worker-cpu"))
    scaled["spec"] = {**scaled["spec"], "minReplicas": 1}
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("queue", WORKER_QUEUES)
def test_each_queue_scales_on_the_selectors_query_divided_by_its_concurrency(overlay, queue):
    objects = render(overlay)
    scaled = find(objects, "ScaledObject", f"worker-{queue}")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    assert trigger["metadata"]["query"] == queue_backlog_sql(queue)  # the one SQL, word for word
    worker = find(objects, "Deployment", f"worker-{queue}")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["deploy/worker", queue]
    assert trigger["metadata"]["targetQueryValue"] == container["command"][2]  # concurrency
    auth = find(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"][0]["parameter"] == "connection"
    assert scaled["spec"]["minReplicaCount"] == {"cpu": 1, "gpu": 0}[queue]
    assert scaled["spec"]["maxReplicaCount"] >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("queue", WORKER_QUEUES)
def test_a_worker_pod_has_the_sandbox_grants_of_compose_and_outlives_its_longest_run(overlay, queue):
    pod = find(render(overlay), "Deployment", f"worker-{queue}")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    sandbox = COMPOSE["x-sandbox"]
    assert security["capabilities"] == {"drop": sandbox["cap_drop"], "add": sandbox["cap_add"]}
    assert security["runAsUser"] == int(sandbox["user"])
    assert security["appArmorProfile"] == {"type": "Unconfined"}
    assert "privileged" not in security and "hostPID" not in pod and "hostNetwork" not in pod
    profile = pod["securityContext"]["seccompProfile"]
    assert profile == {"type": "Localhost", "localhostProfile": "kb/seccomp-worker.json"}
    assert "seccomp=deploy/seccomp-worker.json" in sandbox["security_opt"]  # the same file
    # Warm shutdown gets to finish the longest run before the kubelet's SIGKILL.
    assert pod["terminationGracePeriodSeconds"] > RUN_TIME_LIMIT_S
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gpu_worker_asks_for_a_gpu_on_a_gpu_node(overlay):
    pod = find(render(overlay), "Deployment", "worker-gpu")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert "gpu" in container["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beat_is_one_replica_that_is_never_started_twice(overlay):
    objects = render(overlay)
    beat = find(objects, "StatefulSet", "beat")  # at most one pod beat-0, unlike a Deployment
    assert beat["spec"]["replicas"] == 1
    assert not [o for o in objects if o["kind"] in {"Deployment", "HorizontalPodAutoscaler"}
                and o["metadata"]["name"] == "beat"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_is_probed_scaled_and_protected_from_disruption(overlay):
    objects = render(overlay)
    (web,) = find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    hpa = find(objects, "HorizontalPodAutoscaler", "web")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert find(objects, "PodDisruptionBudget", "web")["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "web"
    }
    (job,) = [o for o in objects if o["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["migrate", "--noinput"]
    nginx_conf = find(objects, "ConfigMap", "nginx-config")["data"]["default.conf"]
    assert "location = /metrics {\n        return 404;" in nginx_conf


def _settings_of(objects) -> set[str]:
    keys = set()
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "kb-config":
            keys |= set(obj["data"])
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == "kb-secrets":
            keys |= set(obj.get("data", {}))
    return keys


def test_every_setting_of_the_compose_stack_is_in_a_configmap_or_a_secret():
    compose_settings = set(COMPOSE["x-app-env"])
    assert compose_settings - _settings_of(render("dev")) == set()
    example = (ROOT / "deploy/kubernetes/overlays/production/secrets.example.env").read_text()
    documented = {line.split("=", 1)[0] for line in example.splitlines() if re.match(r"^[A-Z_]+=", line)}
    assert compose_settings - _settings_of(render("production")) - documented == set()
    for obj in render("production"):
        assert obj["kind"] != "Secret", "production Secrets are created apart, never rendered"


def test_production_images_are_pinned_by_digest_and_migrate_is_named_per_release():
    objects = render("production")
    images = set()
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        images |= {c["image"] for c in pod.get("containers", []) + pod.get("initContainers", [])}
    assert images and all(re.fullmatch(r"[\w./-]+@sha256:[0-9a-f]{64}", image) for image in images), images
    (job,) = [o for o in objects if o["kind"] == "Job"]
    assert re.fullmatch(r"migrate-[\w.-]+", job["metadata"]["name"])

