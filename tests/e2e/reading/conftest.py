"""The reading checks share one site with every seeded article (see seeded_all)."""

import shutil

import pytest
from django.core.management import call_command

from tests.e2e.conftest import ROOT


@pytest.fixture(scope="package")
def seeded_all(django_db_setup, django_db_blocker, cpu_worker, tmp_path_factory):
    """Every seeded article (content/*.md), imported and verified by a real worker, served by
    a live server of this package's own: every test of tests/e2e/reading/ shares it (verifying
    the five articles costs a minute or two, too much for each test). Its tests must not use
    the `db` or `live_server` fixtures, whose flush would empty it; they carry `pytestmark =
    pytest.mark.django_db` (each test in a transaction rolled back, the seed untouched), which
    also tells pytest-django to create the test database. Flushed at the package's end."""
    from pytest_django.live_server_helper import LiveServer

    from answers.models import Answer
    from runner.models import FINISHED
    from tests.support.workers import wait_for

    articles = tmp_path_factory.mktemp("articles")
    for path in sorted((ROOT / "content").glob("*.md")):
        shutil.copy(path, articles)
    with django_db_blocker.unblock():
        call_command("import_articles", str(articles))
        # Every run finished (an article that timed out on a busy machine still has its page).
        wait_for(lambda: not Answer.objects.exclude(run__status__in=FINISHED).exists(), timeout=600)
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield server.url
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            call_command("flush", interactive=False, verbosity=0)
