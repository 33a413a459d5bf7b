"""Content health from real runs: a reader's "Run again" whose output differs, and a
re-verification of the published revision that fails ("stopped passing")."""

import uuid

import pytest

from answers.maintenance import answers_reverify_published
from answers.models import Answer, Reproduction
from answers.services import answer_save
from content_health.selectors import questions_in_state
from content_health.services import question_mark_reviewed
from kb.models import Question
from kb.services import question_publish
from runner.models import Run
from tests.support.workers import SANDBOX_DATA_DIR, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _titles(state):
    return sorted(questions_in_state(state).values_list("title", flat=True))


def test_a_differing_reader_run_and_a_failed_recheck_show_in_content_health(
    client, admin_client, admin_user, cpu_worker
):
    # The sandbox sees no host file but those in the workers' data directory: the answer's
    # output follows this file, so changing it changes what a fresh run prints.
    flag = SANDBOX_DATA_DIR / f"{uuid.uuid4().hex}.txt"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.parent.chmod(0o755)
    flag.write_text("stable")
    flag.chmod(0o644)
    body = f"```python run\nopen({str(flag)!r}).read()\n```\n\n```output\n'stable'\n```\n"
    try:
        question = Question.objects.create(title="Reads a file", slug="reads-a-file")
        answer_save(question=question, body=body)
        question_publish(question=question)
        wait_for(lambda: Answer.objects.get(question=question).published_verified, timeout=90)

        same = client.post("/questions/reads-a-file/run-again/")
        assert same.status_code == 302
        wait_for(lambda: Run.objects.get(pk=Reproduction.objects.get().run_id).is_finished, timeout=90)
        assert _titles("runs_differed") == []  # the fresh run printed what was verified

        flag.write_text("changed")
        client.post("/questions/reads-a-file/run-again/")
        wait_for(
            lambda: all(Run.objects.get(pk=r.run_id).is_finished for r in Reproduction.objects.all()),
            timeout=90,
        )
        assert _titles("runs_differed") == ["Reads a file"]
        listing = admin_client.get("/admin/kb/question/?health=runs_differed").content.decode()
        assert "Reads a file" in listing
        assert _titles("stopped_passing") == []  # readers' runs never change the answer's state

        assert answers_reverify_published(force=True) == 1
        wait_for(lambda: Answer.objects.get(question=question).stopped_passing_at, timeout=90)
        assert _titles("stopped_passing") == ["Reads a file"]
        page = admin_client.get("/admin/kb/question/content-health/").content.decode()
        assert '<a href="#stopped_passing">Stopped passing</a></th><td>1</td>' in page
        assert '<a href="#runs_differed">Reader runs differed</a></th><td>1</td>' in page

        # Reviewed: the differing reader runs before it are dealt with; the failing check is not
        # (only a passing run clears it).
        question_mark_reviewed(question=question, by=admin_user)
        assert _titles("runs_differed") == [] and _titles("stopped_passing") == ["Reads a file"]
    finally:
        flag.unlink(missing_ok=True)
