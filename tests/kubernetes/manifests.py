"""Render the kustomize overlays with the real kubectl and validate what they give: every object
against Kubernetes 1.32's schemas (kubernetes-validate, offline), KEDA's objects against the
CRD schemas vendored in schemas/ (KEDA v2.20.1)."""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production", "production-gvisor")
KUBERNETES_VERSION = "1.32.0"
SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v2.20.1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication-v2.20.1.json",
}
MISSING_KUBECTL = (
    "kubectl is missing: the Kubernetes manifests (deploy/kubernetes/) are rendered with "
    "`kubectl kustomize`, which needs kubectl 1.32 with kustomize 5.5 on PATH (Debian's "
    "kubernetes-client is 1.20, too old: install kubectl from https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl)"
)


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise AssertionError(MISSING_KUBECTL)
    done = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE_ROOT / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def find(objects, kind: str, name: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _closed(schema):
    """The schema with unknown fields refused, as the API server does with strict field
    validation: CRD schemas list their fields but do not say additionalProperties: false."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@functools.cache
def crd_validator(api_version: str, kind: str):
    schema = json.loads((SCHEMAS / CRD_SCHEMAS[(api_version, kind)]).read_text())
    schema.pop("$comment")
    schema = _closed(schema)
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by Kubernetes' own
    return jsonschema.Draft202012Validator(schema)


def validate(obj: dict) -> None:
    """Raise if `obj` is not a valid object of Kubernetes 1.32 (or of KEDA's CRDs)."""
    import kubernetes_validate

    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        crd_validator(*key).validate(copy.deepcopy(obj))
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
