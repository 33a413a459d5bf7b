"""Answers verified through real worker processes, Redis and PostgreSQL."""

import pytest
from django.core.management import call_command

from answers.models import Answer
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from runner.models import Run, RunCell, RunStatus, Worker
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = """## Parameters

```python run
import torch
conv = torch.nn.Conv2d(3, 16, kernel_size=3)
sum(p.numel() for p in conv.parameters())
```

```output
448
```

```python run
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
print("<script>alert('x')</script>")
```
"""


def _finished(run_id):
    run = Run.objects.get(pk=run_id)
    return run if run.is_finished else None


def _published(slug="conv-params", body=BODY):
    question = Question.objects.create(title="Conv parameters", slug=slug)
    answer = answer_save(question=question, body=body)
    question_publish(question=question)
    return question, answer


def test_saved_answer_is_verified_by_a_worker_and_the_page_shows_real_outputs(client, cpu_worker):
    question, answer = _published()
    run = wait_for(lambda: _finished(answer.run_id))
    assert run.status == RunStatus.VERIFIED, list(run.results.values("status", "error"))
    assert list(run.results.values_list("status", flat=True)) == ["passed", "ran"]
    assert run.worker == "cpu@test" and run.fingerprint["torch"].startswith("2.13.0")
    html = client.get(f"/questions/{question.slug}/").content.decode()
    assert "<strong>Verified</strong>" in html and "torch 2.13.0" in html and "2 cells" in html
    assert "448" in html and "Output matches" not in html and "output matches the expected output" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
    figure = RunCell.objects.get(run=run, index=1).figures.get()
    assert figure.image.url in html
    assert figure.image.read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prose_edit_runs_nothing_and_code_edit_runs_once(cpu_worker):
    question, answer = _published(slug="cache")
    first = wait_for(lambda: _finished(answer.run_id))
    prose = answer_save(question=question, body=BODY.replace("## Parameters", "## Counting parameters"))
    assert prose.run_id == first.pk and Run.objects.count() == 1
    code = answer_save(question=question, body=BODY.replace("kernel_size=3", "kernel_size=5"))
    assert code.run_id != first.pk and Run.objects.count() == 2
    rerun = wait_for(lambda: _finished(code.run_id))
    assert rerun.status == RunStatus.FAILED
    assert RunCell.objects.get(run=rerun, index=0).status == "mismatch"
    assert RunCell.objects.get(run=rerun, index=0).output == "1216"


def test_gpu_cell_waits_for_a_gpu_worker_and_is_not_run_on_the_cpu(client, cpu_worker, broker, admin_user):
    body = "```python run device=cuda\nimport torch\ntorch.ones(2, device='cuda').sum()\n```\n"
    question, answer = _published(slug="needs-gpu", body=body)
    run = Run.objects.get(pk=answer.run_id)
    assert run.queue == "gpu" and run.status == RunStatus.WAITING_GPU
    wait_for(lambda: broker.llen("gpu") == 1, timeout=10)  # still queued, not lost
    assert "being verified" in client.get(f"/questions/{question.slug}/").content.decode()
    client.force_login(admin_user)
    preview = client.get(f"/admin/kb/question/{question.pk}/preview/frame/").content.decode()
    assert "Waiting for a GPU worker" in preview and "waiting for a GPU worker to run 1 cell" in preview


def test_worker_publishes_what_it_is(cpu_worker):
    worker = wait_for(lambda: Worker.objects.filter(name="cpu@test").first(), timeout=30)
    assert worker.queues == ["cpu"] and worker.device == "cpu"
    assert worker.fingerprint["python"].startswith("3.11")


def test_verify_command_waits_with_progress_and_reruns_when_forced(cpu_worker, capsys):
    _published(slug="verify-me")
    call_command("verify", "verify-me", "--wait", "--force")
    out = capsys.readouterr().out
    assert "[##############################] 2/2 Verified" in out
    assert "1 of 1 verified" in out
    assert Answer.objects.get(question__slug="verify-me").run.forced is True


# A killed worker's redelivered run, and saving while the broker is down: over Redis and RabbitMQ
# in tests/workers/test_brokers.py.
