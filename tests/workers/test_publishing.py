"""The publishing rule, run again, staying verified and notebooks, with real workers."""

import base64
import uuid

import nbformat
import pytest

from answers.maintenance import answers_reverify_changed_environment, answers_reverify_published
from answers.models import Answer, Reproduction
from answers.notebooks import notebook_to_markdown
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from runner.engine.fingerprint import execution_key
from runner.engine.specs import cells_from_json
from runner.models import Run
from tests.support.article_html import article_html
from tests.support.workers import SANDBOX_DATA_DIR, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GOOD = """## Sum

```python run
import torch
torch.ones(3).sum()
```

```output
tensor(3.)
```

```python run
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
```
"""
BAD = GOOD.replace("torch.ones(3).sum()", "torch.ones(4).sum()")




def _answer(slug):
    return Answer.objects.select_related("run", "published_run", "question").get(question__slug=slug)


def _verified(slug):
    answer = _answer(slug)
    return answer if answer.run and answer.run.is_finished else None


def _publish(slug, body=GOOD, **fields):
    question = Question.objects.create(title=f"Question {slug}", slug=slug, **fields)
    answer_save(question=question, body=body)
    question_publish(question=question)
    return wait_for(lambda: _verified(slug), timeout=60)


def test_failing_revision_does_not_replace_what_readers_see(client, cpu_worker, django_user_model):
    answer = _publish("rule")
    assert answer.published_verified and answer.run.status == "verified"
    page = article_html(client, "rule")
    assert "tensor(3.)" in page and "<strong>Verified</strong>" in page

    answer_save(question=answer.question, body=BAD)
    failed = wait_for(lambda: _verified("rule") if _answer("rule").run.status == "failed" else None)
    assert failed.run.status == "failed" and failed.published_revision.number == 1
    assert article_html(client, "rule") == page  # unchanged for readers

    staff = django_user_model.objects.create_superuser("staff", "s@example.com", "pw-Staff-123")
    client.force_login(staff)
    preview = client.get(f"/admin/kb/question/{failed.question_id}/preview/frame/").content.decode()
    assert "tensor(4.)" in preview and "Output differs" in preview and "did not match" in preview
    status = client.get(f"/admin/kb/question/{failed.question_id}/run-status/").json()
    assert status["finished"] and [c["status"] for c in status["cells"]] == ["mismatch", "ran"]
    listing = client.get("/admin/kb/question/?verification=failed").content.decode()
    assert "Question rule" in listing and "readers see an earlier revision" in listing


def test_override_publishes_a_failing_revision_with_a_plain_warning(client, cpu_worker):
    answer = _publish("override", body=BAD, allow_unverified=True)
    assert answer.run.status == "failed"
    html = client.get("/questions/override/").content.decode()
    assert "The outputs on this page are not verified" in html and "tensor(4.)" in html
    assert "Run again" not in html


def test_reader_runs_the_answer_again_and_sees_fresh_outputs_that_match(client, cpu_worker):
    _publish("again")
    response = client.post("/questions/again/run-again/")
    reproduction = Reproduction.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/questions/again/reproductions/{reproduction.pk}/"
    )
    assert reproduction.run.forced and reproduction.run_id != reproduction.verified_run_id
    wait_for(lambda: Run.objects.get(pk=reproduction.run_id).is_finished)
    html = client.get(response["Location"]).content.decode()
    assert "Every output matches" in html and html.count("matches</span>") == 2
    assert client.get(f"/questions/again/reproductions/{reproduction.pk}/status/").json()["finished"] is True


def test_run_again_is_rate_limited_per_client_and_capped_in_total(client, cpu_worker):
    _publish("limits")
    for _ in range(3):
        assert client.post("/questions/limits/run-again/").status_code == 302
    refused = client.post("/questions/limits/run-again/", follow=True)
    assert refused.status_code == 200 and "3 times every 10 minutes" in refused.content.decode()
    assert Reproduction.objects.count() == 3

    other = client.__class__(REMOTE_ADDR="10.0.0.2")
    # The three runs finish first, then are made to look in flight: flipping a run the worker
    # still holds would make its own writes superseded and leave it unfinished.
    runs = Run.objects.filter(pk__in=Reproduction.objects.values("run"))
    wait_for(lambda: all(run.is_finished for run in runs.all()), timeout=120)
    finished = dict(runs.values_list("pk", "status"))
    runs.update(status="queued")
    Reproduction.objects.create(**{**_copy(Reproduction.objects.first()), "client": "x"})
    busy = other.post("/questions/limits/run-again/", follow=True).content.decode()
    assert "Our workers are busy" in busy
    for pk, status in finished.items():  # nothing is left queued with no message to run it
        Run.objects.filter(pk=pk).update(status=status)


def _copy(reproduction):
    return {
        "answer": reproduction.answer,
        "revision": reproduction.revision,
        "run": reproduction.run,
        "verified_run": reproduction.verified_run,
    }


def test_reverification_that_fails_keeps_the_page_and_emails_staff(
    client, cpu_worker, smtp_inbox, django_user_model
):
    django_user_model.objects.create_user("editor", "editor@example.com", is_staff=True)
    # The sandbox shows no host file but those in the workers' data directory.
    flag = SANDBOX_DATA_DIR / f"{uuid.uuid4().hex}.txt"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.parent.chmod(0o755)
    flag.write_text("stable")
    flag.chmod(0o644)
    body = f"```python run\nopen({str(flag)!r}).read()\n```\n\n```output\n'stable'\n```\n"
    try:
        answer = _publish("drifts", body=body)
        assert answer.published_verified, (
            answer.run.status,
            answer.run.worker,
            answer.run.detail,
            answer.run.cells_done,
            list(answer.run.results.values("status", "output", "error")),
        )
        page = article_html(client, "drifts")
        flag.write_text("changed")
        assert answers_reverify_published(force=True) == 1
        failed = wait_for(lambda: _answer("drifts").stopped_passing_at and _answer("drifts"), timeout=60)
        assert failed.run.status == "failed" and failed.published_verified
        assert article_html(client, "drifts") == page
        message = wait_for(lambda: smtp_inbox.messages and smtp_inbox.messages[0], timeout=30)
        assert message["To"] == "editor@example.com"
        assert message["Subject"] == "Answer stopped passing: Question drifts"
        assert "cell 1 (line 1): Output differs" in message.get_content()
    finally:
        flag.unlink(missing_ok=True)


def test_a_new_worker_environment_reverifies_once(cpu_worker):
    answer = _publish("environment")
    # As if it had been verified by workers with an older torch: that run's key and fingerprint.
    older = {**answer.published_run.fingerprint, "torch": "2.12.0"}
    key = execution_key(cells_from_json(answer.published_run.cells), older)
    Run.objects.filter(pk=answer.published_run_id).update(fingerprint=older, key=key)
    assert answers_reverify_changed_environment() == 1
    rerun = wait_for(lambda: _verified("environment"))
    assert rerun.run_id != answer.published_run_id and rerun.run.status == "verified"
    assert answers_reverify_changed_environment() == 0  # same environment now: nothing runs


def test_notebook_export_has_verified_outputs_and_imports_back_to_the_same_cells(client, cpu_worker):
    answer = _publish("notebook")
    response = client.get("/questions/notebook/notebook.ipynb")
    assert response["Content-Disposition"] == 'attachment; filename="notebook.ipynb"'
    notebook = nbformat.reads(response.content.decode(), as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == [c["code"] for c in answer.run.cells]
    assert code[0].outputs[0]["text"] == "tensor(3.)"
    figures = [out for out in code[1].outputs if out["output_type"] == "display_data"]
    assert len(figures) == 1 and base64.b64decode(figures[0]["data"]["image/png"])[:4] == b"\x89PNG"
    title, body = notebook_to_markdown(response.content)
    assert title == "Question notebook"
    from answers.cells import parse_answer

    assert [(c.code, c.expected) for c in parse_answer(body).cells] == [
        (c.code, c.expected) for c in parse_answer(answer.body).cells
    ]


def test_verify_now_reruns_selected_answers_even_when_cached(client, cpu_worker, admin_user):
    answer = _publish("verify-now")
    client.force_login(admin_user)
    response = client.post(
        "/admin/kb/question/", {"action": "verify_now", "_selected_action": [answer.question_id]}, follow=True
    )
    assert "Queued 1 run(s)." in response.content.decode()
    rerun = wait_for(
        lambda: _verified("verify-now") if _answer("verify-now").run_id != answer.run_id else None
    )
    assert rerun.run.forced and rerun.run.status == "verified" and rerun.published_run_id == rerun.run_id
