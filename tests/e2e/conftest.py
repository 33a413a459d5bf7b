import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
# here are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def try_worker(django_db_setup, broker):
    """The `try` queue's worker (readers' "Edit and run", the editor's draft runs)."""
    from django.conf import settings

    from tests.support.workers import WorkerProcess

    # The session's broker, as the cpu worker got it: an earlier module may have left
    # settings.CELERY_BROKER_URL pointing at a private broker it has since stopped.
    where = broker.connection_pool.connection_kwargs
    worker = WorkerProcess(
        "try-e2e",
        queues="try",
        RUNNER_SANDBOX_UID_BASE=str(settings.RUNNER_SANDBOX_UID_BASE + 50),
        CELERY_BROKER_URL=f"redis://{where['host']}:{where['port']}/{where.get('db', 0)}",
    )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def seeded_site(live_server, cpu_worker, tmp_path):
    """The seeded flagship article, imported and verified by a real worker as on a fresh site.
    (Only the flagship: every test starts from an empty database, and verifying all the
    seeded articles for each browser test would cost minutes.)"""

    from answers.models import Answer
    from tests.support.workers import wait_for

    shutil.copy(ROOT / "content" / "deep-learning-vs-cnn.md", tmp_path)
    call_command("import_articles", str(tmp_path))
    wait_for(lambda: not Answer.objects.filter(published_revision__isnull=True).exists(), timeout=180)
    return live_server.url


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def seeded_slugs() -> list[str]:
    return sorted(path.stem for path in (ROOT / "content").glob("*.md"))
