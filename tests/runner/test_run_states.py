"""Run state transitions in runner.services and runner.recovery, on the real database (no worker
needed)."""

import pytest

from runner.attempts import MAX_ATTEMPTS
from runner.models import Run, RunCell, RunStatus, Worker
from runner.services import run_start

pytestmark = pytest.mark.django_db

CELLS = [
    {"index": i, "line": 1 + 4 * i, "code": "1", "expected": None,
     "options": {"timeout": 5, "device": "cpu", "raises": None, "tol": None, "hide": False}}
    for i in range(3)
]  # fmt: skip


def test_a_job_that_killed_its_worker_every_time_ends_as_crashed_instead_of_looping():
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.RUNNING, attempts=MAX_ATTEMPTS)
    RunCell.objects.create(run=run, index=0, line=1, status="ran", output="1")
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True) is None
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "3 times" in run.detail
    assert list(run.results.values_list("index", "status")) == [(0, "ran"), (1, "crashed"), (2, "skipped")]


def test_a_finished_run_is_never_run_twice():
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.VERIFIED, attempts=1)
    assert run_start(run_id=run.pk, worker="w@host", redelivered=True) is None
    run.refresh_from_db()
    assert run.attempts == 1


def test_a_duplicate_message_for_a_run_another_live_worker_holds_is_dropped():
    from django.utils import timezone

    Worker.objects.create(
        name="busy@host", queues=["cpu"], started_at=timezone.now(), last_heartbeat=timezone.now()
    )
    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.RUNNING, worker="busy@host", attempts=1)
    assert run_start(run_id=run.pk, worker="other@host") is None
    # ...but a redelivery (the holder stopped acknowledging) takes it over.
    taken = run_start(run_id=run.pk, worker="other@host", redelivered=True)
    assert taken is not None and taken.worker == "other@host" and taken.attempts == 2


def _beat(name: str, instance: str) -> Worker:
    from django.utils import timezone

    return Worker.objects.update_or_create(
        name=name,
        defaults={"instance": instance, "queues": ["cpu"], "started_at": timezone.now(),
                  "last_heartbeat": timezone.now()},
    )[0]  # fmt: skip


def test_a_run_left_by_a_previous_start_of_a_live_worker_name_is_swept_once(
    django_capture_on_commit_callbacks,
):
    """A worker restarted under the same hostname beats again, but it is not the
    start that claimed the run: the sweep must still see the run as orphaned, and send it once."""
    from datetime import timedelta

    from django.utils import timezone

    from runner.recovery import run_requeue_stale

    _beat("cpu@host", "second-start")
    long_ago = timezone.now() - timedelta(minutes=10)
    run = Run.objects.create(
        key="k", cells=CELLS, status=RunStatus.RUNNING, worker="cpu@host", worker_instance="first-start",
        attempts=1, started_at=long_ago, queued_at=long_ago,
    )  # fmt: skip
    held = Run.objects.create(
        key="k2", cells=CELLS, status=RunStatus.RUNNING, worker="cpu@host", worker_instance="second-start",
        attempts=1, started_at=long_ago, queued_at=long_ago,
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        assert run_requeue_stale(older_than=timedelta(minutes=1)) == 1
        assert run_requeue_stale(older_than=timedelta(minutes=1)) == 0  # once, not every sweep
    assert len(sent) == 1
    run.refresh_from_db()
    held.refresh_from_db()
    assert run.status == RunStatus.QUEUED and held.status == RunStatus.RUNNING


def test_the_restarted_worker_takes_back_its_previous_start_s_runs_and_claims_them():
    from runner.recovery import run_requeue_orphans_of

    _beat("cpu@host", "second-start")
    run = Run.objects.create(
        key="k",
        cells=CELLS,
        status=RunStatus.RUNNING,
        worker="cpu@host",
        worker_instance="first-start",
        attempts=1,
    )
    assert run_requeue_orphans_of(worker="cpu@host", instance="second-start") == 1
    taken = run_start(run_id=run.pk, worker="cpu@host", instance="second-start")
    assert taken is not None and taken.attempts == 2 and taken.worker_instance == "second-start"
    # A duplicate message for the run this live start holds is dropped, even on the same name.
    assert run_start(run_id=run.pk, worker="cpu@host", instance="second-start") is None


def test_a_result_the_database_refuses_ends_the_run_as_failed_instead_of_running(fresh_server):
    """Any exception while recording or finishing ends the run with a reason.
    Here the real fork server runs the cells and the real database refuses the first result (a
    row left for cell 0 while the run says it is a first attempt: the unique constraint fires)."""
    from runner.services import run_execute

    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.RUNNING, worker="w@host", attempts=1)
    RunCell.objects.create(run=run, index=0, line=1, status="ran", output="stale")
    run = run_execute(run=run, server=fresh_server)
    assert (
        run.status == RunStatus.FAILED
        and "could not complete or store" in run.detail
        and "IntegrityError" in run.detail
    )
    assert list(run.results.values_list("index", "status")) == [(0, "ran"), (1, "error"), (2, "skipped")]


def test_a_nul_byte_a_cell_prints_is_stored_as_a_replacement_character(fresh_server):
    from runner.services import run_execute

    cells = [{**CELLS[0], "code": "print('a\\x00b')\nprint('c', file=__import__('sys').stderr, end='\\x00')"}]
    run = Run.objects.create(key="k", cells=cells, status=RunStatus.RUNNING, worker="w@host", attempts=1)
    run = run_execute(run=run, server=fresh_server)
    cell = run.results.get()
    assert run.status == RunStatus.VERIFIED, run.detail
    assert (cell.status, cell.output, cell.stderr) == ("ran", "a\ufffdb\n", "c\ufffd")


def test_a_lone_surrogate_in_what_a_cell_reports_is_stored_as_a_replacement_character(fresh_server):
    """An exception message (or a figure title) may hold a lone surrogate, which JSON carries
    but PostgreSQL's UTF-8 cannot: the cell's error is stored, not the whole run failed."""
    from runner.services import run_execute

    cells = [{**CELLS[0], "code": "raise ValueError('bad \\ud800 text')"}]
    run = Run.objects.create(key="k", cells=cells, status=RunStatus.RUNNING, worker="w@host", attempts=1)
    run = run_execute(run=run, server=fresh_server)
    cell = run.results.get()
    assert "could not complete or store" not in run.detail, run.detail
    assert cell.status == "error" and "ValueError: bad \ufffd text" in cell.error, cell.error


def test_cell_statuses_have_one_source_of_truth():
    from runner.engine.protocol import CellStatus as EngineCellStatus
    from runner.models import CellStatus

    assert [s.value for s in EngineCellStatus] == CellStatus.values
    assert CellStatus.MISMATCH.label == "Output differs"


def test_a_run_past_its_deadline_is_swept_even_if_its_worker_still_beats(django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from runner.recovery import run_requeue_stale

    _beat("cpu@host", "live-start")
    started = timezone.now() - timedelta(minutes=20)  # past the 900 s deadline
    run = Run.objects.create(
        key="k", cells=CELLS, status=RunStatus.RUNNING, worker="cpu@host", worker_instance="live-start",
        attempts=1, started_at=started,
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        assert run_requeue_stale() == 1
    assert len(sent) == 1 and Run.objects.get(pk=run.pk).status == RunStatus.QUEUED


def test_a_figure_stored_by_the_previous_release_without_a_title_gets_an_empty_one():
    # RunFigure.title is new; a worker of the previous release, still running during
    # the upgrade, inserts figures without the column: the database's default fills it in.
    from django.db import connection

    from runner.models import RunFigure
    from runner.results import run_results

    run = Run.objects.create(key="k", cells=CELLS, status=RunStatus.VERIFIED, attempts=1)
    cell = RunCell.objects.create(run=run, index=0, line=1, status="ran", output="")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO runner_runfigure (cell_id, position, sha256, image) VALUES (%s, 0, %s, %s)",
            [cell.pk, "0" * 64, "figures/00/old.png"],
        )
    assert RunFigure.objects.get(cell=cell).title == ""
    assert run_results(run=run)[0]["figures"] == [{"url": "/media/figures/00/old.png", "title": ""}]
