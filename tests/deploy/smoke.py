"""Deploy smoke test: the production stack (Dockerfile + docker-compose.yml) built and run for
real, checked as a reader and an operator would. Run by bin/test-deploy (and so by bin/test
and .ci/run); exit 0 only when every check passed, 77 when no Docker engine can start here.

Nothing leaves the machine: images are built from local stand-ins (tests/deploy/images/),
pip installs from a wheelhouse served on 127.0.0.1, the stack's ports are bound to
127.0.0.1, and e-mail goes to an SMTP catcher inside the stack.
"""

from __future__ import annotations

import argparse
import contextlib
import html.parser
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from compose_stack import (
    HERE,
    IMAGE,
    ROOT,
    SKIPPED,
    Stack,
    build_images,
    check,
    ensure_engine,
    free_port,
    http_get,
    import_articles,
    log,
    results,
    sh,
    wait_for,
    wait_ready,
)

PROJECT = "kbsmoke"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class FormParser(html.parser.HTMLParser):
    """The fields of each <form method=post> on a page (the cookie banner has one too)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.in_form = True
            self.forms.append({})
        elif self.in_form and tag in ("input", "textarea", "select") and attrs.get("name"):
            self.forms[-1][attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False

    def form_with(self, field: str) -> dict[str, str]:
        return next(form for form in self.forms if field in form)


# --- checks -------------------------------------------------------------------------------

HOSTILE = """---
title: "Smoke test: what a cell can reach"
slug: smoke-sandbox-escape
tags: [smoke]
summary: A cell that tries to read the worker's secrets and to reach Redis.
---

Every attempt below must fail inside the sandbox.

```python run
import glob, os, socket
secret_names = ("DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
print("secrets in my environment:", sorted(k for k in os.environ if k in secret_names))
leaks = []
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        with open(path, "rb") as handle:
            if b"DJANGO_SECRET_KEY" in handle.read():
                leaks.append(path)
    except OSError:
        pass
print("environ files with the secret:", leaks)
for host in ("redis", "REDIS_IP"):
    try:
        socket.create_connection((host, 6379), timeout=3).close()
        print(host, "reachable")
    except OSError as exc:
        print(host, "unreachable")
print("uid", os.getuid())
```

```output
secrets in my environment: []
environ files with the secret: []
redis unreachable
REDIS_IP unreachable
uid ...
```
"""

LONG = """---
title: "Smoke test: a long run"
slug: smoke-long-run
tags: [smoke]
summary: A run that takes long enough to kill its worker in the middle.
---

```python run timeout=180
import time
time.sleep(SLEEP_S)
print("slept")
```

```output
slept
```
"""


STATUS_CODE = """
import json
from kb.models import Question
rows = []
for q in Question.objects.select_related("answer__run").order_by("slug"):
    answer = getattr(q, "answer", None)
    run = answer.run if answer else None
    rows.append({"slug": q.slug, "status": run.status if run else None})
print(json.dumps(rows))
"""


def answer_statuses(stack: Stack) -> dict[str, str]:
    return {row["slug"]: row["status"] for row in stack.shell(STATUS_CODE)}


RUN_CODE = """
import json
from runner.models import Run
rows = [{"id": r.id, "status": r.status, "attempts": r.attempts, "worker": r.worker,
         "results": list(r.results.values_list("index", flat=True)),
         "code": r.cells[0]["code"] if r.cells else ""} for r in Run.objects.order_by("id")]
print(json.dumps(rows))
"""


def runs(stack: Stack) -> list[dict]:
    return stack.shell(RUN_CODE)


def page_status(stack: Stack, slug: str) -> str:
    """What the question's page says of its answer: verified, failed or pending (cheap to poll:
    a `manage.py shell` in the container costs seconds of CPU, a page a few milliseconds)."""
    status, body = page(stack, f"/questions/{slug}/")
    if status == 200 and "<strong>Verified</strong>" in body:
        return "verified"
    if status == 200 and "did not pass every cell" in body:
        return "failed"
    return "pending"


def page(stack: Stack, path: str) -> tuple[int, str]:
    status, _, body = http_get(stack.url(path))
    return status, body.decode("utf-8", "replace")


def check_reader_pages(stack: Stack, slugs: list[str]) -> str:
    """Verified articles' pages; returns the slug of one with figures (for the restart check)."""
    figures, with_figures = [], ""
    for slug in slugs:
        status, body = page(stack, f"/questions/{slug}/")
        verified = "<strong>Verified</strong>" in body and "without sandbox isolation" not in body
        verified = verified and "in a partial sandbox" not in body
        check(f"page {slug}: 200, verified in the sandbox", status == 200 and verified, f"HTTP {status}")
        found = re.findall(r'<img[^>]+src="(/media/[^"]+)"', body)
        figures += found
        with_figures = with_figures or (slug if found and verified else "")
    check("article pages link figures under /media/", bool(figures), f"{len(figures)} figures")
    for src in sorted(set(figures))[:5]:
        status, headers, body = http_get(stack.url(src))
        cache = headers.get("Cache-Control", "")
        ok = status == 200 and body.startswith(b"\x89PNG") and "max-age=31536000" in cache
        check(f"figure {src} served by nginx as PNG with a long cache", ok, f"HTTP {status}, {cache!r}")
    return with_figures


def check_provenance(stack: Stack, slug: str) -> None:
    _, body = page(stack, f"/questions/{slug}/")
    wanted = ["pid namespace on", "net namespace on", "mount namespace on"]
    check("provenance shows the namespaces granted in the container", all(w in body for w in wanted))
    # The worker's seccomp profile (deploy/seccomp-worker.json) lets the cell pivot into its
    # fresh root, which Docker's default profile refuses; the cell then installs its own filter.
    layers = ["fresh root on", "private /tmp on", "private /proc on", "seccomp on", "unprivileged user on"]
    missing = [layer for layer in layers if layer not in body]
    check("provenance shows a fresh root and seccomp inside the container", not missing, f"missing {missing}")


def check_worker_refuses_without_the_seccomp_profile() -> None:
    """The worker's grants minus deploy/seccomp-worker.json (Docker's default profile denies
    pivot_root): a production worker must refuse to start, and say why, before it takes a job."""
    grants = [
        *("--user", "0", "--cap-drop", "ALL"),
        *(f"--cap-add={cap}" for cap in ("SYS_ADMIN", "SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE")),
        *("--security-opt", "apparmor=unconfined", "--network", "none"),
    ]
    production = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "DJANGO_ALLOWED_HOSTS": "kb.invalid",
        "SITE_URL": "https://kb.invalid",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",  # never reached: the check comes first
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
    }
    env = [arg for key, value in production.items() for arg in ("-e", f"{key}={value}")]
    done = subprocess.run(
        ["docker", "run", "--rm", *grants, *env, IMAGE, "deploy/worker", "cpu", "1"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    said = done.stdout + done.stderr
    refused = "Refusing to start: this worker cannot isolate cells" in said and "pivot_root" in said
    reason = re.search(r"missing: [^)]*\)", said)
    check(
        "with Docker's default seccomp profile a production worker refuses to start, saying why",
        done.returncode != 0 and refused,
        reason.group(0) if reason else f"rc {done.returncode}: {said[-300:]}",
    )


def check_health_and_metrics(stack: Stack) -> None:
    status, _, body = http_get(stack.url("/healthz/ready"))
    ready = json.loads(body or b"{}")
    check(
        "readiness through the proxy: ok", status == 200 and ready.get("status") == "ok", body.decode()[:200]
    )
    status, _, _ = http_get(stack.url("/metrics"))
    check("/metrics is not served through the proxy", status == 404, f"HTTP {status}")
    # Inside the stack: plain HTTP to the container's own address, a Host no one allowed. With
    # "auth" the probe sends the container's own METRICS_TOKEN, so it is on no command line.
    probe = (
        "import os, sys, urllib.error, urllib.request as u\n"
        "token = os.environ['METRICS_TOKEN'] if sys.argv[3:] == ['auth'] else None\n"
        "headers = {'Host': 'web:8000', **({'Authorization': 'Bearer ' + token} if token else {})}\n"
        "request = u.Request('http://' + sys.argv[1] + ':8000' + sys.argv[2], headers=headers)\n"
        "try:\n    r = u.urlopen(request)\nexcept urllib.error.HTTPError as refused:\n    r = refused\n"
        "print(r.getcode()); print(r.read().decode())"
    )
    live = stack.run("exec", "-T", "web", "python", "-c", probe, "127.0.0.1", "/healthz")
    check("liveness by a plain-HTTP probe inside the stack: 200", live.startswith("200"), live[:80])
    denied = stack.run("exec", "-T", "web", "python", "-c", probe, "127.0.0.1", "/metrics")
    check("/metrics without the token inside the stack: 401", denied.startswith("401"), denied[:80])
    metrics = stack.run("exec", "-T", "web", "python", "-c", probe, "127.0.0.1", "/metrics", "auth")
    check("/metrics with the token inside the stack: 200", metrics.startswith("200"), metrics[:80])

    def value(pattern: str) -> float:
        found = re.findall(pattern + r" ([0-9.e+]+)$", metrics, re.M)
        return sum(float(v) for v in found)

    check(
        "/metrics counts page requests",
        value(r'kb_http_requests_total\{[^}]*view="[^"]*question[^"]*"[^}]*\}') > 0,
    )
    check("/metrics counts verified runs", value(r'kb_runs_total\{status="verified"\}') > 0)
    check("/metrics shows a live CPU worker", value(r'kb_live_workers\{queue="cpu"\}') >= 1)
    check(
        "/metrics has queue depth and run durations",
        'kb_queue_depth{queue="cpu"}' in metrics and "kb_run_duration_seconds_count" in metrics,
    )


def check_logs_are_json(stack: Stack) -> None:
    lines = stack.run("logs", "--no-color", "--no-log-prefix", "worker-cpu", check_rc=False)
    parsed = []
    for line in lines.splitlines():
        with contextlib.suppress(ValueError):
            parsed.append(json.loads(line))
    with_run = [p for p in parsed if p.get("run_id") not in (None, "-")]
    keys = {"time", "level", "logger", "message", "request_id", "run_id"}
    check(
        "worker logs are JSON lines with time, level, logger, request and run id",
        bool(with_run) and keys <= set(with_run[0]),
        f"{len(parsed)} JSON lines, {len(with_run)} with a run id",
    )


def check_demo_request(stack: Stack) -> None:
    opener = urllib.request.build_opener(NoRedirect)
    with opener.open(stack.url("/demo/"), timeout=10) as response:  # noqa: S310 (loopback)
        body = response.read().decode()
        cookies = "; ".join(
            c.split(";", 1)[0] for k, c in response.headers.items() if k.lower() == "set-cookie"
        )
    form = FormParser()
    form.feed(body)
    fields = dict(form.form_with("email"))
    marker = f"smoke-{secrets.token_hex(4)}"
    fields.update(
        name="Ada Smoke",
        email="ada@kb.test",
        company=marker,
        role="Tester",
        message="A demo of the verified answers, please.",
        consent="on",
        website="",
    )
    time.sleep(3.5)  # the form refuses posts faster than a person could type
    request = urllib.request.Request(  # noqa: S310 (loopback)
        stack.url("/demo/"),
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Cookie": cookies, "Referer": stack.url("/demo/"), "Origin": stack.url("")},
    )
    try:
        with opener.open(request, timeout=10) as response:  # noqa: S310 (loopback)
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    check("demo request accepted (redirect after POST)", status in (302, 303), f"HTTP {status}")

    def delivered():
        return marker in stack.run("logs", "--no-color", "smtp", check_rc=False)

    try:
        wait_for("the demo e-mail", delivered, timeout=90)
        check("demo request e-mail delivered to the SMTP server in the stack", True)
    except TimeoutError as exc:
        check("demo request e-mail delivered to the SMTP server in the stack", False, str(exc))


def check_hostile_cell(stack: Stack) -> None:
    redis_ip = sh(
        "docker",
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        stack.container("redis"),
    ).strip()
    import_articles(stack, "smoke-hostile", HOSTILE.replace("REDIS_IP", redis_ip))
    wait_for(
        "the hostile cell's run",
        lambda: page_status(stack, "smoke-sandbox-escape") != "pending",
        timeout=240,
        interval=3,
    )
    status, body = page(stack, "/questions/smoke-sandbox-escape/")
    ok = status == 200 and "<strong>Verified</strong>" in body and "environ files with the secret: []" in body
    check(
        "a cell cannot read the worker's environment nor reach Redis",
        ok,
        f"answer {answer_statuses(stack).get('smoke-sandbox-escape')}",
    )
    uid = re.search(r"uid (\d+)", body)
    check(
        "the cell ran as an unprivileged uid",
        bool(uid) and uid.group(1) != "0",
        uid.group(0) if uid else "no uid printed",
    )


def check_worker_killed_mid_run(stack: Stack) -> None:
    import_articles(stack, "smoke-long", LONG.replace("SLEEP_S", "40"))

    def long_run():
        return next((r for r in runs(stack) if "time.sleep(40)" in r["code"]), None)

    run = wait_for(
        "the long run to start",
        lambda: (r := long_run()) and r["status"] == "running" and r,
        timeout=180,
        interval=2,
    )
    time.sleep(5)
    worker = stack.container("worker-cpu")
    sh("docker", "kill", worker)
    log(f"killed the worker container during run #{run['id']}")
    time.sleep(3)
    sh("docker", "start", worker)
    done = wait_for(
        "the long run to finish after the restart",
        lambda: (r := long_run()) and r["status"] in ("verified", "failed") and r,
        timeout=420,
        interval=10,
    )
    same_key = [r for r in runs(stack) if "time.sleep(40)" in r["code"]]
    check(
        "the killed run completed, exactly once",
        done["status"] == "verified" and len(same_key) == 1 and sorted(done["results"]) == [0],
        f"run #{done['id']} {done['status']} after {done['attempts']} attempts, results {done['results']}",
    )


def check_survives_down_up(stack: Stack, before: dict[str, str], slug: str) -> None:
    figures_before = re.findall(r'src="(/media/[^"]+)"', page(stack, f"/questions/{slug}/")[1])
    stack.run("down", timeout=300)
    stack.run("up", "-d", "--no-build", timeout=600)
    wait_ready(stack)
    after = answer_statuses(stack)
    check(
        "after down + up: every answer and its status kept",
        after == before,
        f"{sum(v == 'verified' for v in after.values())} verified",
    )
    status, body = page(stack, f"/questions/{slug}/")
    figures_after = re.findall(r'src="(/media/[^"]+)"', body)
    served = all(http_get(stack.url(src))[0] == 200 for src in figures_after)
    check(
        "after down + up: pages and figures still served",
        status == 200 and served and figures_before and figures_after == figures_before,
        f"{len(figures_after)} figures",
    )


def host_verification() -> dict[str, str]:
    """Each article's status when verified outside Docker, by the same sandbox on this host
    (`manage.py verify_markdown`): the container must verify exactly what the host verifies."""
    files = sorted((ROOT / "content").glob("*.md"))
    environ = {**os.environ, "DJANGO_DEBUG": "1"}
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "verify_markdown", "--json", *map(str, files)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = json.loads(done.stdout)
    statuses = {}
    for entry in report["files"]:
        text = Path(entry["path"]).read_text()
        slug = re.search(r"^slug:\s*[\"']?([-\w]+)", text, re.M).group(1)
        statuses[slug] = entry["status"]
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    parser.add_argument("--no-build", action="store_true", help="use the images already built (debugging)")
    args = parser.parse_args()
    if not ensure_engine():
        print("SKIPPED: no Docker engine can start on this machine (the deploy smoke test needs one).")
        return SKIPPED
    if not args.no_build:
        build_images()
    stack = Stack(
        free_port(),
        project=PROJECT,
        overrides=(HERE / "docker-compose.smoke.yml",),
        settings={
            "EMAIL_HOST": "smtp",
            "EMAIL_PORT": "1025",
            "EMAIL_USE_TLS": "0",
            "SALES_EMAIL": "sales@kb.test",
            # One run at a time: this machine has 2 cores shared with other work, and two runs
            # side by side pushed a long cell past its 60 s timeout.
            "CPU_WORKER_CONCURRENCY": "1",
        },
    )
    try:
        stack.run("down", "-v", "--remove-orphans", check_rc=False)
        host: dict = {}
        on_host = threading.Thread(target=lambda: host.update(host_verification()), daemon=True)
        on_host.start()
        t0 = time.monotonic()
        stack.run("up", "-d", "--no-build", timeout=600)
        wait_ready(stack)
        log(f"stack up and ready from nothing ({time.monotonic() - t0:.0f} s)")
        stack.manage("createsuperuser", "--noinput", "--username", "smoke-admin", "--email", "admin@kb.test")
        staff = stack.shell(
            "import json; from django.contrib.auth.models import User; "
            "print(json.dumps(User.objects.filter(is_staff=True).count()))"
        )
        check("a staff user was created", staff >= 1)
        stack.manage("import_articles", "content/")
        t0 = time.monotonic()
        # A never-verified answer shows readers no outputs at all, so its failure is not on
        # the page: poll the database (a `manage.py shell` in the container, every 15 s).
        statuses = wait_for(
            "the CPU worker to verify the articles",
            lambda: (
                (s := answer_statuses(stack)) and all(v in ("verified", "failed") for v in s.values()) and s
            ),
            timeout=600,
            interval=15,
        )
        on_host.join(timeout=900)
        in_container = {
            slug: "verified" if status == "verified" else "failed" for slug, status in statuses.items()
        }
        check(
            "the CPU worker in its container verifies exactly the articles the host's sandbox verifies",
            bool(host) and in_container == host,
            f"container {in_container}, host {host}, in {time.monotonic() - t0:.0f} s",
        )
        failing = sorted(slug for slug, status in in_container.items() if status != "verified")
        if failing:  # failing on the host as well: the article's content, not the deployment
            log(f"NOTE: not verified here nor on the host (content, not deployment): {failing}")
        with_figures = check_reader_pages(stack, sorted(s for s, v in statuses.items() if v == "verified"))
        check_provenance(
            stack, next(slug for slug, status in sorted(statuses.items()) if status == "verified")
        )
        check_worker_refuses_without_the_seccomp_profile()
        check_health_and_metrics(stack)
        check_demo_request(stack)
        check_hostile_cell(stack)
        check_logs_are_json(stack)
        check_worker_killed_mid_run(stack)
        check_survives_down_up(stack, answer_statuses(stack), with_figures)
    except Exception as exc:  # a step that could not complete is a failed check, with its reason
        check("the smoke test ran to the end", False, f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            print(stack.run("ps", check_rc=False))
            print(stack.run("logs", "--no-color", "--tail", "40", check_rc=False)[-8000:])
    finally:
        if not args.keep:
            stack.down()
        else:
            log(f"left running: {' '.join(stack.compose)}")
    failed = [name for name, ok, _ in results if not ok]
    log(
        f"{len(results) - len(failed)} of {len(results)} checks passed"
        + (f"; FAILED: {failed}" if failed else "")
    )
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
