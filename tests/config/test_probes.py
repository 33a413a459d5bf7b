"""/healthz (liveness), /healthz/ready (readiness) and /metrics answer a plain-HTTP probe
inside the stack: no HTTPS redirect and no Host check, while every other URL keeps both."""

import pytest

pytestmark = pytest.mark.django_db

PRODUCTION = {"SECURE_SSL_REDIRECT": True, "ALLOWED_HOSTS": ["kb.example.com"]}


@pytest.fixture
def production(settings):
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    return settings


def test_liveness_answers_a_plain_http_probe_to_the_container_address(client, production):
    response = client.get("/healthz", HTTP_HOST="172.18.0.5:8000")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert "no-cache" in response["Cache-Control"]


def test_readiness_answers_a_probe_with_an_unlisted_host(client, production):
    response = client.get("/healthz/ready", HTTP_HOST="web:8000")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "broker", "workers"}


def test_head_probe_and_post_refused(client, production):
    assert client.head("/healthz", HTTP_HOST="web:8000").status_code == 200
    assert client.post("/healthz", HTTP_HOST="web:8000").status_code == 405


def test_other_pages_keep_the_https_redirect_and_the_host_check(client, production):
    assert client.get("/", HTTP_HOST="web:8000").status_code == 400
    redirect = client.get("/", HTTP_HOST="kb.example.com")
    assert redirect.status_code == 301 and redirect["Location"] == "https://kb.example.com/"


def test_readiness_is_degraded_without_a_cpu_worker_but_still_200(client):
    body = client.get("/healthz/ready").json()
    assert body["status"] == "degraded" and body["checks"]["workers"]["cpu"] == 0
