"""Infrastructure faults and stale messages in runner.services and runner.recovery, on the real
database (no worker needed; tests/workers/test_faults.py injects the faults into real workers)."""

import pytest

from answers.services import answer_verify
from runner.attempts import MAX_ATTEMPTS, Superseded
from runner.engine.protocol import CellResult, CellStatus
from runner.models import Run, RunCell, RunStatus
from runner.recovery import run_requeue_after_fault
from runner.services import run_finish, run_record_cell, run_start

pytestmark = pytest.mark.django_db

CELL_BODY = """Weight sharing:

```python run
sum(p.numel() for p in __import__("torch").nn.Conv2d(3, 16, kernel_size=3).parameters())
```

```output
448
```
"""


def _result(index: int, cell: dict, status=CellStatus.PASSED) -> CellResult:
    return CellResult(index=index, line=cell["line"], status=status, output="448", expected=cell["expected"])


def _verify(run: Run) -> Run:
    run = run_start(run_id=run.pk, worker="w@host")
    for index, cell in enumerate(run.cells):
        run_record_cell(run=run, result=_result(index, cell))
    return run_finish(run=run, fingerprint={}, sandbox={})


def test_a_message_sent_before_the_run_was_queued_again_does_nothing():
    cells = [{"index": 0, "line": 1, "code": "1", "expected": None, "options": {}}]
    run = Run.objects.create(key="k", cells=cells)
    first = run_start(run_id=run.pk, worker="lost@host", sent_at_attempt=0)
    # Its worker is lost, and the run is queued again with a new message (sent at attempt 1)...
    run_requeue_after_fault(run=first, fault="the fork server died")
    # ...then the first message comes back from the broker, redelivered: it must do nothing.
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True, sent_at_attempt=0) is None
    second = run_start(run_id=run.pk, worker="w@host", sent_at_attempt=1)
    assert second is not None and second.attempts == 2
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True, sent_at_attempt=0) is None
    run_record_cell(run=second, result=_result(0, cells[0], CellStatus.RAN))
    run_finish(run=second, fingerprint={}, sandbox={})
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True, sent_at_attempt=1) is None
    run.refresh_from_db()
    assert (run.status, run.attempts, run.results.count()) == (RunStatus.VERIFIED, 2, 1)


def test_an_attempt_that_was_taken_over_stores_nothing():
    cells = [{"index": i, "line": 1 + i, "code": "1", "expected": None, "options": {}} for i in range(2)]
    run = Run.objects.create(key="k", cells=cells)
    old = run_start(run_id=run.pk, worker="a@host", sent_at_attempt=0)
    run_record_cell(run=old, result=_result(0, cells[0], CellStatus.RAN))
    new = run_start(run_id=run.pk, worker="b@host", redelivered=True, sent_at_attempt=0)  # its worker died
    assert new.attempts == 2
    with pytest.raises(Superseded):
        run_record_cell(run=old, result=_result(1, cells[1], CellStatus.ERROR))
    with pytest.raises(Superseded):
        run_finish(run=old, fingerprint={}, sandbox={})
    assert list(RunCell.objects.filter(run=run).values_list("index", "status")) == [(0, "ran")]
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING  # the new attempt's


def test_a_fault_queues_the_run_again_without_its_partial_results():
    cells = [{"index": i, "line": 1 + i, "code": "1", "expected": None, "options": {}} for i in range(2)]
    run = run_start(run_id=Run.objects.create(key="k", cells=cells).pk, worker="w@host")
    run_record_cell(run=run, result=_result(0, cells[0], CellStatus.RAN))
    run = run_requeue_after_fault(run=run, fault="database unavailable (OperationalError: gone)")
    assert (run.status, run.cells_done, run.results.count()) == (RunStatus.QUEUED, 0, 0)
    assert run.fault.startswith("database unavailable") and run.finished_at is None


def test_a_run_the_infrastructure_failed_every_time_is_a_fault_not_a_stopped_passing_answer(
    make_question, admin_client
):
    question = make_question(title="Weight sharing", body=CELL_BODY)
    answer = question.answer
    verified = _verify(answer.run)
    answer.refresh_from_db()
    assert verified.status == RunStatus.VERIFIED and answer.published_verified
    answer_verify(answer=answer, force=True)  # re-verification; the infrastructure fails it
    answer.refresh_from_db()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        run = run_start(run_id=answer.run_id, worker="w@host", sent_at_attempt=attempt - 1)
        run = run_requeue_after_fault(
            run=run, fault=f"storage or I/O failure (OSError: [Errno 28] No space left on device) #{attempt}"
        )
    assert run.status == RunStatus.FAULT and run.is_finished
    assert not RunCell.objects.filter(run=run).exists()  # nothing recorded as a cell's result
    answer.refresh_from_db()
    assert answer.stopped_passing_at is None and answer.published_run_id == verified.pk

    listed = admin_client.get("/admin/kb/question/?verification=fault").content.decode()
    assert "Weight sharing" in listed
    assert listed.count("Infrastructure fault") >= 2  # the filter's choice, and the row's status
    assert (
        "Weight sharing"
        not in admin_client.get("/admin/kb/question/?verification=stopped_passing").content.decode()
    )
    runs = admin_client.get("/admin/runner/run/").content.decode()
    assert "Gave up: storage or I/O failure" in runs
    detail = admin_client.get(f"/admin/runner/run/{run.pk}/change/").content.decode()
    assert "No space left on device" in detail and "Infrastructure fault" in detail
