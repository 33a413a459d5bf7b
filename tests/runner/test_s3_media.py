"""MEDIA_STORAGE=s3: the worker's code path writes a run's figure to an S3-compatible bucket
(moto's standalone server on loopback, through django-storages and boto3), and the page data
links it at a plain URL any web replica can serve."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.storage import default_storage

from runner import results, services
from runner.engine.forkserver import ForkServer
from runner.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

FIGURE_CELL = {
    "index": 0,
    "code": "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 3, 2])",
    "options": {"timeout": 60.0, "device": "cpu", "raises": None, "tol": None, "hide": False},
    "expected": None,
    "line": 1,
}


@pytest.fixture(scope="module")
def moto_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_media(moto_server, settings, monkeypatch):
    bucket = f"kb-media-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    # Figures are public: the bucket lets anyone read its objects, as docs/deploy.md says.
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": moto_server,
                "region_name": "us-east-1",
                "querystring_auth": False,
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    return client, bucket, moto_server


def test_a_run_figure_goes_to_the_bucket_and_the_page_links_it(s3_media):
    client, bucket, endpoint = s3_media
    run = Run.objects.create(key=uuid.uuid4().hex, cells=[FIGURE_CELL])
    run = services.run_start(run_id=run.pk, worker="s3-test@localhost")
    server = ForkServer.start()
    try:
        run = services.run_execute(run=run, server=server)
    finally:
        server.close()
    assert run.status == "verified", results.run_results(run=run)
    (figure,) = results.run_results(run=run)[0]["figures"]
    url = figure["url"]
    assert type(default_storage._wrapped).__name__ == "S3Storage"
    assert url.startswith(f"{endpoint}/{bucket}/")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert url.endswith(keys[0])
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (moto on loopback)
        assert response.status == 200 and response.read()[:4] == b"\x89PNG"


def _default_storage_from_env(**env) -> subprocess.CompletedProcess:
    code = "import json, django; django.setup(); from django.conf import settings; "
    code += "print(json.dumps(settings.STORAGES['default']))"
    environ = {**os.environ, "DJANGO_DEBUG": "1", **env}
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=environ, capture_output=True, text=True)


def test_the_environment_chooses_the_media_storage():
    default = _default_storage_from_env(MEDIA_STORAGE="filesystem")
    assert json.loads(default.stdout)["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    s3 = json.loads(
        _default_storage_from_env(
            MEDIA_STORAGE="s3", MEDIA_S3_BUCKET="kb-media", MEDIA_S3_ENDPOINT_URL="http://127.0.0.1:9000"
        ).stdout
    )
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "kb-media" and s3["OPTIONS"]["querystring_auth"] is False
    wrong = _default_storage_from_env(MEDIA_STORAGE="ftp")
    assert wrong.returncode != 0 and "MEDIA_STORAGE must be 'filesystem' or 's3'" in wrong.stderr
