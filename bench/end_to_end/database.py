"""The bench's database, timed without polling: triggers NOTIFY when a runner_run status
changes or a runner_runcell row is written, and the Listener timestamps each notification as
it arrives.

PostgreSQL delivers a notification when the writing transaction commits, so the moment the
bench receives it is the moment the result became visible to any reader (a poll loop would add
up to its interval and compete for the cores). The payload also carries clock_timestamp() of
the row's write, which gives the commit's own cost.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict

from .params import CHANNEL, DATABASE_URL

TRIGGERS_SQL = f"""
CREATE FUNCTION kb_bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'runner_runcell' THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
      'e', 'cell', 'run', NEW.run_id, 'at', extract(epoch FROM clock_timestamp()))::text);
  ELSIF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
      'e', NEW.status, 'run', NEW.id, 'at', extract(epoch FROM clock_timestamp()))::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER kb_bench_cell AFTER INSERT OR UPDATE ON runner_runcell
  FOR EACH ROW EXECUTE FUNCTION kb_bench_notify();
CREATE TRIGGER kb_bench_run AFTER INSERT OR UPDATE ON runner_run
  FOR EACH ROW EXECUTE FUNCTION kb_bench_notify();
"""


class Listener(threading.Thread):
    """Receives the triggers' notifications; each is timestamped as it arrives (= commit)."""

    def __init__(self):
        super().__init__(name="kb-bench-listener", daemon=True)
        import psycopg

        self.conn = psycopg.connect(DATABASE_URL, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")
        self.events: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
        self.cond = threading.Condition()
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            for note in self.conn.notifies(timeout=0.5):
                received = time.time()
                data = json.loads(note.payload)
                with self.cond:
                    self.events[data["run"]].setdefault(data["e"], (received, float(data["at"])))
                    self.cond.notify_all()

    def wait(self, run_id: int, names: tuple[str, ...], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(name in self.events[run_id] for name in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"run {run_id}: no {names} after {timeout} s: {self.events[run_id]}")
                self.cond.wait(left)
            return dict(self.events[run_id])

    def stop(self) -> None:
        self.stopping = True
        self.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()
