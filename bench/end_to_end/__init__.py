"""The parts of bench/end_to_end_latency.py (the script runs them in this order):

- params: what is measured and against what (database, broker, the cell, the targets);
- database: the bench's database with its NOTIFY triggers, and the listener that times commits;
- answers: a Celery worker for one pool, answers sent through it one after the other;
- report: the figures of one pool's answers and the summary;
- probe_worker, probe_forkserver: the same code with timing hooks, to see where the time goes;
- alternatives: the same cell through nbclient and through `python -c`.

Only the standard library is imported at module level: the script runs itself as a probed
Celery worker and as a probed fork server (--probe-worker, --probe-forkserver).
"""
