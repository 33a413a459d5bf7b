"""The compose stack driven from Python, shared by the deploy smoke test (smoke.py) and the
burst on the compose stack (scale.py): the Docker engine, the images built from local stand-ins,
one stack under its own compose project name, and the checks' bookkeeping.

Nothing leaves the machine: images are built from local stand-ins (tests/deploy/images/),
pip installs from a wheelhouse served on 127.0.0.1, and the stack's ports are bound to
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("KB_DEPLOY_CACHE", "/var/cache/kb-deploy"))
IMAGE = "verified-kb:latest"
SKIPPED = 77

results: list[tuple[str, bool, str]] = []
started = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, bool(ok), detail))
    log(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    return bool(ok)


def sh(*args: str, check_rc: bool = True, capture: bool = True, timeout: float = 900, **kw) -> str:
    done = subprocess.run(args, capture_output=capture, text=True, timeout=timeout, **kw)
    if check_rc and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return (done.stdout or "") if capture else ""


def wait_for(what: str, probe, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except Exception as exc:  # not yet: keep trying until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# --- the engine ---------------------------------------------------------------------------


def engine_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def ensure_engine() -> bool:
    """Start Debian's Docker engine if it is not running (installing it if need be)."""
    if shutil.which("docker") and engine_up():
        return True
    if not shutil.which("dockerd") and shutil.which("apt-get") and os.geteuid() == 0:
        log("installing docker.io, docker-compose and debootstrap")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker.io", "docker-compose", "debootstrap"],
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not shutil.which("dockerd") or os.geteuid() != 0:
        return False
    CACHE.mkdir(parents=True, exist_ok=True)
    # overlay2 where the kernel and filesystem allow it (here: ext4, builds several times
    # faster); vfs, which works everywhere but copies every layer in full, otherwise.
    for driver in ("overlay2", "vfs"):
        log(f"starting dockerd ({driver} storage driver)")
        with open(CACHE / "dockerd.log", "ab") as out:
            daemon = subprocess.Popen(
                ["dockerd", f"--storage-driver={driver}"], stdout=out, stderr=out, start_new_session=True
            )
        try:
            wait_for(
                "the Docker engine", lambda d=daemon: d.poll() is None and engine_up(), timeout=60, interval=1
            )
            return True
        except TimeoutError:
            if daemon.poll() is None:
                daemon.terminate()
                daemon.wait(timeout=30)
    return False


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"]


# --- images -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def wheelhouse_server(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def build_images() -> None:
    t0 = time.monotonic()
    sh(str(HERE / "images" / "build"), capture=False)
    log(f"stand-in base images ready ({time.monotonic() - t0:.0f} s)")
    t0 = time.monotonic()
    wheels = CACHE / "wheelhouse"
    wheels.mkdir(parents=True, exist_ok=True)
    # The host's pip (its index, its CA bundle, its torch CPU wheel) fills the wheelhouse;
    # the build then installs from it over loopback, checking every hash of requirements.lock.
    lock = ROOT / "requirements.lock"
    stamp = wheels / f".complete-{hashlib.sha256(lock.read_bytes()).hexdigest()[:16]}"
    if not stamp.exists():
        sh(
            str(ROOT / ".venv/bin/pip"),
            *("download", "-q", "--require-hashes", "--no-deps", "--only-binary=:all:"),
            *("-r", str(lock), "-d", str(wheels)),
        )
        stamp.touch()
    log(f"wheelhouse ready ({time.monotonic() - t0:.0f} s)")
    t0 = time.monotonic()
    with wheelhouse_server(wheels) as url:
        sh(
            "docker",
            "build",
            "-q",
            "--network",
            "host",
            "--build-arg",
            f"WHEELHOUSE_URL={url}",
            "-t",
            IMAGE,
            str(ROOT),
        )
    log(f"app image built ({time.monotonic() - t0:.0f} s)")


# --- the stack ----------------------------------------------------------------------------


class Stack:
    """One compose project of docker-compose.yml plus `overrides` (compose files), with fresh
    secrets in an env file of its own; `settings` adds to or replaces the env file's values."""

    def __init__(self, port: int, *, project: str, overrides: tuple[Path, ...] = (), settings=None):
        self.port = port
        self.project = project
        self.dir = Path(tempfile.mkdtemp(prefix=f"kb-{project}-"))
        self.env_file = self.dir / "stack.env"
        self.secret = secrets.token_urlsafe(40)
        values = {
            "DJANGO_SECRET_KEY": self.secret,
            "METRICS_TOKEN": secrets.token_urlsafe(24),  # required in production
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback: no TLS terminator in these tests
            "HTTP_BIND": f"127.0.0.1:{port}",
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            "REDIS_PASSWORD": secrets.token_urlsafe(16),
            "KB_IMAGE": IMAGE,
            **(settings or {}),
        }
        self.values = values
        self.write_settings({})
        # Compose prefers the caller's environment to --env-file: keep only the file's values.
        self.environ = {k: v for k, v in os.environ.items() if k not in values}
        files = [ROOT / "docker-compose.yml", *overrides]
        self.compose = [
            *compose_command(),
            *("--project-name", project, "--env-file", str(self.env_file)),
            *(arg for path in files for arg in ("-f", str(path))),
        ]

    def write_settings(self, changes: dict[str, str]) -> None:
        """Change values of the env file: the next `up` recreates the containers they concern."""
        self.values.update(changes)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.values.items()))

    def run(self, *args: str, check_rc: bool = True, timeout: float = 600) -> str:
        return sh(*self.compose, *args, check_rc=check_rc, timeout=timeout, cwd=ROOT, env=self.environ)

    def manage(self, *args: str, service: str = "web") -> str:
        return self.run("exec", "-T", service, "python", "manage.py", *args)

    def shell(self, code: str):
        """Run Python in the web container with Django set up; the last printed line is JSON."""
        out = self.run("exec", "-T", "web", "python", "manage.py", "shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).strip()

    def containers(self, service: str) -> list[str]:
        """The ids of the running containers of a service (one per `--scale` replica), from
        the engine by compose's labels: faster than a compose command, and a killed one is gone."""
        labels = (f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}")
        return sh(
            "docker", "ps", "-q", "--no-trunc", *(f"--filter=label={label}" for label in labels)
        ).split()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def down(self) -> None:
        """Stop the stack and delete its volumes (its database, broker and media with it)."""
        self.run("down", "-v", "--remove-orphans", check_rc=False, timeout=300)
        shutil.rmtree(self.dir, ignore_errors=True)


def http_get(url: str, headers: dict | None = None, timeout: float = 10):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def import_articles(stack: Stack, name: str, text: str) -> None:
    import_folder(stack, name, {f"{name}.md": text})


def import_folder(stack: Stack, name: str, files: dict[str, str]) -> str:
    """Copy Markdown files into the web container and import them (one transaction: every
    answer's run is sent to the broker when the import commits); the command's output."""
    folder = stack.dir / name
    folder.mkdir()
    for filename, text in files.items():
        (folder / filename).write_text(text)
    web = stack.container("web")
    sh("docker", "cp", str(folder), f"{web}:/tmp/{name}")
    return stack.manage("import_articles", f"/tmp/{name}")


def wait_ready(stack: Stack) -> None:
    def ready():
        status, _, body = http_get(stack.url("/healthz/ready"), timeout=5)
        return status == 200 and json.loads(body).get("status") == "ok"

    wait_for("the stack to be ready (web, database, broker, a CPU worker)", ready, timeout=300, interval=3)
