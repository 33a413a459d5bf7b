"""bin/run as a new user meets it: started in the background on a free PORT with a
var directory of its own, it says each step, serves the first page with no warning on the
terminal or in the workers' logs, runs a reader's edited cell ("Edit and run") and a staff
member's draft cell (the answer editor) on its try-it worker and SQLite try-it store with no
Redis, refuses a busy port at once, starts each worker again when it dies, and one SIGTERM
stops everything it started. One start (~30-60 s here: migrations, the articles, real
workers) is shared by the tests of this module, in this order."""

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.brokers import free_port
from tests.support.processes import descendants, port_free, running, with_argument

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "bin-run-admin-7c1e9a"


def _env(var_dir: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.pop("MEDIA_ROOT", None)
    env.update(PORT=str(port), KB_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    env.update(DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD)  # user "admin", for the answer editor
    return env


class BinRun:
    def __init__(self, var_dir: Path, port: int):
        self.var_dir, self.port = var_dir, port
        self.output_path = var_dir.parent / f"{var_dir.name}.out"
        self.process = subprocess.Popen(
            [str(ROOT / "bin" / "run")],
            cwd=ROOT,
            env=_env(var_dir, port),
            stdout=self.output_path.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            assert self.process.poll() is None, f"bin/run exited {self.process.returncode}:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output[-3000:]}")

    def get(self, path: str = "/"):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def worker_pid(self, pidfile: str = "worker.pid") -> int | None:
        try:
            pid = int((self.var_dir / pidfile).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if running(pid) else None


@pytest.fixture(scope="module")
def bin_run(tmp_path_factory):
    run = BinRun(tmp_path_factory.mktemp("binrun") / "var", free_port())
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with run.get("/") as response:
                    run.first_page = (response.status, response.read().decode())
                break
            except OSError:
                assert run.process.poll() is None, f"bin/run exited {run.process.returncode}:\n{run.output}"
                assert time.monotonic() < deadline, f"no page within 240 s:\n{run.output[-3000:]}"
                time.sleep(0.5)
        yield run
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            for pid in descendants(run.process.pid) | with_argument(str(run.var_dir)):
                os.kill(pid, signal.SIGKILL)
            run.process.wait(timeout=30)


def _wait_worker_ready(run: BinRun, starts: int, timeout: float = 120, log: str = "worker.log") -> None:
    deadline = time.monotonic() + timeout
    while (run.var_dir / log).read_text(errors="replace").count(" ready.") < starts:
        assert time.monotonic() < deadline, (run.var_dir / log).read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def test_the_first_page_is_served_after_each_step_was_said_and_nothing_warns(bin_run):
    status, html = bin_run.first_page
    assert status == 200 and "</html>" in html
    output = bin_run.output
    for step in ("[1/4] Python packages", "[2/4] Database", "[3/4] Articles", "[4/4] Starting the worker"):
        assert step in output
    assert f"Serving on http://127.0.0.1:{bin_run.port}/" in output
    _wait_worker_ready(bin_run, starts=1)
    _wait_worker_ready(bin_run, starts=1, log="try-worker.log")
    worker_log = (bin_run.var_dir / "worker.log").read_text(errors="replace")
    try_log = (bin_run.var_dir / "try-worker.log").read_text(errors="replace")
    # kombu's "No hostname was supplied", Celery's running-as-root and Django's development-server
    # warnings were the noise of a clean start.
    for text in (output, worker_log, try_log):
        assert "WARNING" not in text and "Warning" not in text, text[-3000:]
        assert "No hostname was supplied" not in text and "superuser privileges" not in text


class Browser:
    """A reader's browser on bin/run's site: cookies kept, the CSRF token read from the page."""

    def __init__(self, run: BinRun):
        self.base = f"http://127.0.0.1:{run.port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def page(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode()

    def post_json(self, path: str, fields: dict) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            self.base + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Accept": "application/json"},
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"{}")

    def get_json(self, path: str) -> dict:
        with self.opener.open(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def csrf_cookie(self) -> str:
        return next(c.value for c in self.cookies if c.name == "csrftoken")


def test_a_reader_edits_a_seeded_cell_runs_it_and_sees_its_output(bin_run):
    browser, slug = Browser(bin_run), "confusion-matrix"
    form = f'action="/questions/{slug}/cells/1/try/"'
    # The form is offered once the worker has verified the seeded answer.
    deadline = time.monotonic() + 300
    while form not in (page := browser.page(f"/questions/{slug}/")):
        assert time.monotonic() < deadline, (bin_run.var_dir / "worker.log").read_text(errors="replace")[
            -3000:
        ]
        time.sleep(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, started = browser.post_json(
        f"/questions/{slug}/cells/1/try/", {"csrfmiddlewaretoken": csrf, "code": "print(6 * 7)"}
    )
    assert status == 202, started
    deadline = time.monotonic() + 120
    while not (run := browser.get_json(started["status_url"]))["done"]:
        assert time.monotonic() < deadline, (bin_run.var_dir / "try-worker.log").read_text(errors="replace")[
            -3000:
        ]
        time.sleep(0.3)
    assert (run["status"], run["stdout"]) == ("ran", "42"), run
    assert (bin_run.var_dir / "tryit.sqlite3").exists()  # no Redis: the embedded store
    assert "try-it run finished: ran" in (bin_run.var_dir / "try-worker.log").read_text(errors="replace")


def test_staff_run_a_draft_cell_in_the_answer_editor_and_see_its_output(bin_run):
    browser = Browser(bin_run)
    login = browser.page("/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        browser.base + "/admin/login/",
        data=urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf, "username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"}
        ).encode(),
    )
    with browser.opener.open(request, timeout=10) as response:
        assert "Log out" in response.read().decode()  # followed the redirect, signed in
    body = "```python run\nx = 6\n```\n\n```python run\nprint(x * 7)\n```\n"
    fields = {"csrfmiddlewaretoken": browser.csrf_cookie(), "body": body, "cell": "2", "scope": "cell"}
    status, started = browser.post_json("/admin/kb/question/editor/run/", fields)
    assert status == 202, started
    deadline = time.monotonic() + 120
    while not (run := browser.get_json(started["resultUrl"]))["done"]:
        assert time.monotonic() < deadline, (bin_run.var_dir / "try-worker.log").read_text(errors="replace")[
            -3000:
        ]
        time.sleep(0.3)
    assert run["state"] == "done", run
    assert [(cell["number"], cell["stdout"]) for cell in run["cells"]] == [(2, "42")], run


def test_a_second_run_on_a_busy_port_is_refused_at_once_with_a_free_port_to_try(bin_run, tmp_path):
    started = time.monotonic()
    second = subprocess.run(
        [str(ROOT / "bin" / "run")],
        cwd=ROOT,
        env=_env(tmp_path / "var", bin_run.port),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert time.monotonic() - started < 10  # before the install, the migrations or a worker
    assert f"port {bin_run.port} on 127.0.0.1 is already in use" in second.stdout
    suggested = int(second.stdout.split("PORT=")[1].split()[0])
    assert suggested != bin_run.port and port_free(suggested)
    assert not (tmp_path / "var").exists()  # refused before it made anything


def test_a_worker_that_dies_is_started_again_and_the_terminal_says_so(bin_run):
    _wait_worker_ready(bin_run, starts=1)
    first = bin_run.worker_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    bin_run.wait_for_output("the worker exited", timeout=30)
    bin_run.wait_for_output("worker started again", timeout=30)
    _wait_worker_ready(bin_run, starts=2)
    second = bin_run.worker_pid()
    assert second is not None and second != first and not running(first)
    with bin_run.get("/") as response:  # the server was not touched
        assert response.status == 200


def test_a_try_it_worker_that_dies_is_started_again_too(bin_run):
    first = bin_run.worker_pid("try-worker.pid")
    assert first is not None
    os.kill(first, signal.SIGKILL)
    bin_run.wait_for_output("the try-it worker exited", timeout=30)
    bin_run.wait_for_output("try-it worker started again", timeout=30)
    _wait_worker_ready(bin_run, starts=2, log="try-worker.log")
    second = bin_run.worker_pid("try-worker.pid")
    assert second is not None and second != first and not running(first)


def test_one_sigterm_stops_everything_it_started_and_frees_the_port(bin_run):
    _wait_worker_ready(bin_run, starts=2)
    _wait_worker_ready(bin_run, starts=2, log="try-worker.log")
    started = descendants(bin_run.process.pid) | with_argument(str(bin_run.var_dir))
    assert {bin_run.worker_pid(), bin_run.worker_pid("try-worker.pid")} <= started
    assert len(started) >= 5  # the server, two workers, their pool processes
    os.kill(bin_run.process.pid, signal.SIGTERM)  # one signal, to bin/run alone
    assert bin_run.process.wait(timeout=60) == 0, bin_run.output[-3000:]
    time.sleep(0.5)  # the kernel's reparenting of anything left
    left = {pid for pid in started if running(pid)} | with_argument(str(bin_run.var_dir))
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    assert port_free(bin_run.port)
    # a second run finds no stale worker or server
    for pidfile in ("worker.pid", "try-worker.pid", "server.pid"):
        assert not (bin_run.var_dir / pidfile).exists(), pidfile
    assert bin_run.output.rstrip().endswith("bin/run: stopped")
