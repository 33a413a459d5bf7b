"""Try-it as a reader sees it: Run -> the output in the page's DOM, in Chromium, 8 readers at once.

    .venv/bin/python bench/tryit_browser_latency.py [rounds]

Needs PostgreSQL and Redis on 127.0.0.1 (as the tests do) and Debian's Chromium. It creates the
database kb_bench_tryit (dropped at the end) and uses Redis dbs 8 (cache, try store) and 9
(broker); starts the site (`manage.py runserver`), a verifying worker (`-Q cpu`) and a try
worker (`-Q try`, BENCH_TRY_CONCURRENCY pool processes, default 2); publishes three verified
answers; then, in one Chromium with 8 pages, times from the Run button's click to the result's
status in the DOM (performance.now() in the page, a MutationObserver on the result), and
prints the median and p95 of:

- a trivial edited cell, one reader at a time;
- the same with 8 readers pressing Run at once;
- a trivial cell after a published prefix that takes 3 s (its checkpoint warm: one run first);
- a cell that draws a matplotlib figure.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "kb_bench_tryit"
ENV = {
    "DJANGO_DEBUG": "1",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "REDIS_URL": "redis://127.0.0.1:6379/8",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    "KB_VAR_DIR": "/tmp/kb-bench-tryit",
    "RUNNER_SANDBOX_UID_BASE": os.environ.get("RUNNER_SANDBOX_UID_BASE", "360000"),
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, str(ROOT))

ANSWERS = {
    "bench-trivial": "```python run\nbase = 20\n```\n\n```python run\nbase * 2\n```\n",
    "bench-slow-prefix": (
        "```python run timeout=30\nimport time\ntime.sleep(3)\nbase = 20\n```\n\n"
        "```python run\nbase * 2\n```\n"
    ),
}
FIGURE = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Installs an observer on the cell's result, sets the code, clicks Run; resolves with the ms
# from the click to a finished status in the DOM.
START_JS = """([number, code]) => {
  const cell = document.querySelector(`#cell-${number}`);
  const textarea = cell.querySelector("textarea.try__code");
  if (textarea.kbCodeEditor) textarea.kbCodeEditor.setValue(code); else textarea.value = code;
  const result = cell.querySelector("[data-try-result]");
  result.replaceChildren();
  window.__run = new Promise((resolve) => {
    let started = 0;
    const observer = new MutationObserver(() => {
      const status = result.querySelector(".try-outcome__status");
      const finished = /^(Ran|Your code raised|Stopped|Not run|The run was lost|Our workers|You have run)/;
      if (status && finished.test(status.textContent.trim())) {
        observer.disconnect();
        resolve([performance.now() - started, status.textContent.trim()]);
      }
    });
    observer.observe(result, { childList: true, subtree: true, characterData: true });
    started = performance.now();
    cell.querySelector("button.try__run").click();
  });
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True)


def start(command: list[str], log: str) -> subprocess.Popen:
    out = (Path(ENV["KB_VAR_DIR"]) / log).open("wb")
    return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def worker(queue: str, concurrency: int) -> subprocess.Popen:
    return start(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
         "--concurrency", str(concurrency), "--hostname", f"bench-{queue}-{os.getpid()}@%h",
         "--without-gossip", "--without-mingle"],
        f"{queue}.log",
    )  # fmt: skip


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


def publish_answers() -> None:
    from answers.models import Answer
    from answers.services import answer_save
    from kb.models import Question
    from kb.services import question_publish

    for slug, body in ANSWERS.items():
        question = Question.objects.create(title=slug.replace("-", " "), slug=slug)
        answer_save(question=question, body=body)
        question_publish(question=question)
    wait_until(
        lambda: Answer.objects.filter(published_verified=True).count() == len(ANSWERS),
        240,
        "verified answers",
    )


def report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    print(
        f"{name:<52} n={len(samples):<3} p50={statistics.median(samples):7.0f} ms  p95={p95:7.0f} ms",
        flush=True,
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    Path(ENV["KB_VAR_DIR"], "staticfiles").mkdir(parents=True, exist_ok=True)
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {DATABASE}")
    subprocess.run(["redis-cli", "-n", "8", "flushdb"], check=True, capture_output=True)
    subprocess.run(["redis-cli", "-n", "9", "flushdb"], check=True, capture_output=True)
    import django

    django.setup()
    from django.core.management import call_command

    from answers import tryit_limits as limits

    call_command("migrate", verbosity=0)
    port = free_port()
    processes = [
        start([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], "web.log"),
        worker("cpu", 1),
        worker("try", int(os.environ.get("BENCH_TRY_CONCURRENCY", "2"))),
    ]
    try:
        publish_answers()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            pages = [browser.new_context().new_page() for _ in range(8)]

            def open_answer(page, slug: str) -> None:
                page.goto(f"http://127.0.0.1:{port}/questions/{slug}/")
                page.locator("#cell-2").get_by_text("Edit and run").click()
                page.wait_for_selector(
                    "#cell-2 textarea.try__code[data-kb-code-editor=attached]", state="attached"
                )

            def run(pages_now, code: str) -> list[float]:
                limits.bucket_reset(client=limits.client_hash(address="127.0.0.1"))
                for page in pages_now:
                    page.evaluate(START_JS, [2, code])
                timings = []
                for page in pages_now:
                    elapsed, status = page.evaluate("window.__run")
                    if not status.startswith("Ran"):
                        sys.exit(f"a run did not succeed: {status}")
                    timings.append(elapsed)
                return timings

            for page in pages:
                open_answer(page, "bench-trivial")
            for _ in range(4):
                run(pages[:2], "base + 1")  # every pool process has its fork server warm
            print(f"load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
            report(
                "trivial cell, one reader", [t for _ in range(rounds * 2) for t in run(pages[:1], "base + 1")]
            )
            report(
                "trivial cell, 8 readers at once", [t for _ in range(rounds) for t in run(pages, "base + 1")]
            )
            report("matplotlib figure cell", [t for _ in range(rounds) for t in run(pages[:1], FIGURE)])
            open_answer(pages[0], "bench-slow-prefix")
            for _ in range(3):  # one checkpoint per try pool process
                run(pages[:1], "base + 1")
            report(
                "trivial cell after a 3 s published prefix (warm)",
                [t for _ in range(rounds) for t in run(pages[:1], "base + 1")],
            )
            print(f"load after:  {Path('/proc/loadavg').read_text().strip()}", flush=True)
            browser.close()
    finally:
        for process in processes:
            with_group = process.pid
            try:
                os.killpg(with_group, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(with_group, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
