"""What the benchmarks share, so that each script holds only what it measures.

- report: printing (log, fail) and the figures of a list of timings (pct, ms, stats_line);
- machine: the machine and its processes (CPU model, who used how many cores, waiting for a
  quiet machine, a process tree's memory);
- processes: starting a Celery worker (or any server) in a session of its own, waiting for its
  "ready." line, stopping it with everything it started;
- database: a bench's own PostgreSQL database and Redis db, its environment and manage.py.

Everything here imports only the standard library at module level: the end-to-end bench runs
parts of itself inside a fork server, where Django is never loaded.
"""
