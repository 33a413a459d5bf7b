"""Where a worker's time goes: the same Celery worker, run by the bench's script
(--probe-worker), with timing marks around Celery's signals, runner.services, Django's connect
and close, the fork server call and every psycopg statement and commit (the same code,
wrapped); and the report that lines the marks up with each answer's commits.

Marks use time.time(): everything runs on one machine, one clock.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.support.machine import cores_text
from bench.support.report import stats_line

from .params import PROBE_LOG_ENV, REUSE_DB_ENV, ROOT
from .report import quiet_samples


def _probe_writer():
    fd = os.open(os.environ[PROBE_LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def mark(event: str, tag: object = "-") -> None:
        thread = threading.current_thread().name
        os.write(fd, f"{time.time():.6f} {os.getpid()} {thread} {event} {tag}\n".encode())

    return mark


def probe_worker(celery_args: list[str]) -> None:
    """Internal: a Celery worker whose task path is timed (the same code, wrapped)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    import config.celery  # the app, as `-A config` would load it

    django.setup()
    from celery import signals
    from django.db.backends.base.base import BaseDatabaseWrapper

    import answers.services
    import runner.services as services
    from runner.engine.forkserver import ForkServer

    mark = _probe_writer()
    current = {"run": "-"}
    if os.environ.get(REUSE_DB_ENV):
        # What-if: Celery's Django fixup closes every DB connection before and after each task
        # unless CELERY_DB_REUSE_MAX is set; with it, the connection survives 2x that many calls.
        config.celery.app.conf["CELERY_DB_REUSE_MAX"] = 1000
    _probe_sql(current)

    def wrap(owner, name, event):
        original = getattr(owner, name, None)
        if original is None:  # renamed since: that step goes unmeasured
            return

        def wrapper(*args, **kwargs):
            mark(f"{event}.begin", current["run"])
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{event}.end", current["run"])

        setattr(owner, name, wrapper)

    for name, event in (("run_start", "run_start"), ("run_record_cell", "record"),
                        ("run_finish", "finish"), ("run_execute", "execute")):
        wrap(services, name, event)
    wrap(answers.services, "answers_refresh_for_run", "answers_refresh")
    wrap(BaseDatabaseWrapper, "connect", "db_connect")
    wrap(BaseDatabaseWrapper, "close", "db_close")
    wrap(ForkServer, "run_answer", "fs_call")

    def received(sender=None, request=None, **kwargs):
        mark("received", getattr(request, "id", "-"))

    def prerun(sender=None, task_id=None, args=None, **kwargs):
        current["run"] = args[0] if args else "-"
        mark("prerun", current["run"])
        mark("prerun.task", task_id)

    def postrun(sender=None, task_id=None, **kwargs):
        # The run stays current: Celery's Django fixup closes the connection after this.
        mark("postrun", current["run"])

    # Connected before Celery's Django fixup connects its own handlers: "prerun" comes first.
    signals.task_received.connect(received, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    from celery.bin.celery import main

    sys.argv = ["celery", *celery_args]
    sys.exit(main())


def _probe_sql(current: dict) -> None:
    """Every statement and commit the worker sends through psycopg, with its duration."""
    import psycopg

    fd = os.open(os.environ[PROBE_LOG_ENV] + ".sql", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(at: float, text: str) -> None:
        entry = {"run": str(current["run"]), "thread": threading.current_thread().name, "at": at,
                 "s": time.time() - at, "sql": " ".join(text.split())[:110]}
        os.write(fd, (json.dumps(entry) + "\n").encode())

    real_execute, real_commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def execute(self, query, *args, **kwargs):
        at = time.time()
        try:
            return real_execute(self, query, *args, **kwargs)
        finally:
            record(at, query if isinstance(query, str) else repr(query))

    def commit(self):
        at = time.time()
        try:
            return real_commit(self)
        finally:
            record(at, "COMMIT")

    psycopg.Cursor.execute = execute
    psycopg.Connection.commit = commit


def read_probe_worker(log: Path) -> dict[str, list[tuple[float, int, str, str]]]:
    """tag -> [(time, pid, thread, event)]."""
    by_tag = defaultdict(list)
    for text in log.read_text().splitlines():
        at, pid, thread, event, tag = text.split(" ")
        by_tag[tag].append((float(at), int(pid), thread, event))
    return by_tag


def report_probe_worker(result: dict, log: Path) -> None:
    marks = read_probe_worker(log)
    rows = defaultdict(list)
    samples, which = quiet_samples(result)
    for s in samples:
        run_marks = {}
        for at, _pid, thread, event in marks.get(str(s["run"]), []):
            if event.startswith("db_") and thread != "MainThread":
                continue
            run_marks.setdefault(event, at)
            if event.startswith("db_connect") or event.startswith("db_close"):
                run_marks[event + ".last"] = at
        for at, _pid, _thread, event in marks.get(str(s.get("task_id")), []):
            run_marks.setdefault(event, at)
        points = {"t0": s["t0"], "before": s.get("before"), "after": s.get("after"),
                  "cell_commit": s["events"].get("cell", (None,))[0],
                  "finished_commit": s["events"].get("verified", (None,))[0], **run_marks}

        def add(label, a, b, points=points):
            if points.get(a) is not None and points.get(b) is not None:
                rows[label].append(points[b] - points[a])

        add("bench: run_request until publish (key, INSERT, COMMIT)", "t0", "before")
        add("bench: publish to Redis (apply_async)", "before", "after")
        add("publish + Redis -> worker main process (task_received)", "before", "received")
        add("main process -> task_prerun in the pool process", "received", "prerun")
        add("task_prerun handlers (Celery's Django fixup closes the DB)", "prerun", "run_start.begin")
        add("run_start (connect + SELECT FOR UPDATE, UPDATE, COMMIT)", "run_start.begin", "run_start.end")
        add("  of which: DB connect (new connection every task)", "db_connect.begin", "db_connect.end")
        add("run_execute -> ForkServer.run_answer called", "run_start.end", "fs_call.begin")
        add("fork server: run_answer -> first result in the worker", "fs_call.begin", "record.begin")
        add("run_record_cell (SELECT, INSERT, DELETE, UPDATE, COMMIT)", "record.begin", "record.end")
        add("  record end -> its NOTIFY received (checks the method: ~0)", "record.end", "cell_commit")
        add("fork server: child exit, reap, cleanup, end frame", "record.end", "finish.begin")
        add("run_finish (SELECT, UPDATE, signal, COMMIT)", "finish.begin", "finish.end")
        add("  of which: answers_refresh_for_run (run_finished signal)", "answers_refresh.begin",
            "answers_refresh.end")
        add("task return -> task_postrun", "finish.end", "postrun")
        add("postrun: Celery's Django fixup closes the DB", "db_close.begin.last", "db_close.end.last")
        add("TOTAL queued -> cell committed (this probe run)", "t0", "cell_commit")
        add("TOTAL queued -> run finished committed (this probe run)", "t0", "finished_commit")
    print(f"-- where the time goes: {result['label']}, {which}; "
          f"cores during the runs: {cores_text(result['cores'])}")
    for label, values in rows.items():
        print(stats_line(label, values, 62))
    sql_log = Path(str(log) + ".sql")
    statements = defaultdict(list)
    if sql_log.exists():
        for text in sql_log.read_text().splitlines():
            entry = json.loads(text)
            if entry["thread"] == "MainThread":
                statements[entry["run"]].append(entry)
    per_run = [statements.get(str(s["run"]), []) for s in samples]
    counts = [len(found) for found in per_run if found]
    if counts:
        print(f"  SQL per task (psycopg level, MainThread; BEGIN is implicit and not counted): "
              f"median {statistics.median(counts):g} statements+commits, median "
              f"{statistics.median(sum(e['s'] for e in found) for found in per_run if found) * 1000:.2f} ms "
              f"inside them; the last task's:")
        last = per_run[-1]
        for entry in last:
            offset = (entry["at"] - last[0]["at"]) * 1000
            print(f"    +{offset:7.2f} ms  {entry['s'] * 1000:6.2f} ms  {entry['sql']}")
