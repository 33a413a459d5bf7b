"""The sandbox as a real worker runs it: against the real PostgreSQL, with the worker's own uid."""

import os

import pytest
from django.conf import settings

from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from runner.models import Run, RunCell, RunStatus
from runner.tasks import execute_run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OPTIONS = {"timeout": 30, "device": "cpu", "raises": None, "tol": None, "hide": False}


def _socket_dir() -> str:
    for path in ("/var/run/postgresql", "/run/postgresql"):
        if os.path.exists(f"{path}/.s.PGSQL.5432"):
            return path
    pytest.skip("PostgreSQL has no Unix socket on this machine: the test would prove nothing")


def _finished(run_id):
    run = Run.objects.get(pk=run_id)
    return run if run.is_finished else None


def test_a_cell_on_a_worker_cannot_reach_postgresql_through_its_unix_socket(start_worker):
    socket_dir = _socket_dir()
    # A base of its own, relative to this run's, so two test runs on one machine never share uids.
    uid_base = settings.RUNNER_SANDBOX_UID_BASE + 10_000
    start_worker("sandboxed", queues="sandbox", RUNNER_SANDBOX_UID_BASE=str(uid_base))
    connect = (
        "import psycopg\n"
        "try:\n"
        f"    psycopg.connect(host={socket_dir!r}, user='postgres', dbname='postgres', connect_timeout=3)\n"
        "    print('connected')\n"
        "except psycopg.OperationalError:\n"
        "    print('refused')\n"
    )
    cells = [
        {"index": 0, "line": 1, "code": connect, "expected": "refused", "options": OPTIONS},
        {"index": 1, "line": 9, "code": "import os\nos.getuid()", "expected": None, "options": OPTIONS},
    ]
    run = Run.objects.create(key="unix-socket-test", cells=cells, queue="sandbox")
    execute_run.apply_async((run.pk,), queue="sandbox")
    run = wait_for(lambda: _finished(run.pk), timeout=90)
    cells = RunCell.objects.filter(run=run).order_by("index").values_list("status", "output")
    results = [(status, output.strip()) for status, output in cells]
    assert results == [("passed", "refused"), ("ran", str(uid_base))], results
    assert run.status == RunStatus.VERIFIED
    # Its own sandbox uid: the base this worker was given + its pool process's index (0).
    assert run.sandbox["uid"] == uid_base
    assert run.sandbox["layers"]["fresh root"] is True and run.sandbox["layers"]["seccomp"] is True


def test_the_page_says_which_sandbox_layers_the_run_had(client, cpu_worker):
    question = Question.objects.create(title="Layers", slug="layers")
    answer = answer_save(question=question, body="```python run\n1 + 1\n```\n\n```output\n2\n```\n")
    question_publish(question=question)
    run = wait_for(lambda: _finished(answer.run_id), timeout=90)
    assert run.status == RunStatus.VERIFIED
    html = client.get(f"/questions/{question.slug}/").content.decode()
    assert "fresh root on" in html and "seccomp on" in html and "net namespace on" in html
