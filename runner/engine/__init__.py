"""The execution engine: sandbox, fork server, supervisor, cell execution and comparison.

Nothing in this package imports Django (tests/runner/test_engine_boundary.py keeps it so), so
the engine can run in a bare interpreter: the fork server is ``python -m runner.engine.forkserver``.
The Django app around it (models, services, tasks, pool, admin) lives in ``runner/``.
"""
