"""A bench's own site: its PostgreSQL database and Redis db, the environment that points the
project at them, and manage.py run against them.

BENCH_DB_NAME / BENCH_REDIS_URL: run a bench beside other people's benchmarks on one machine.
The database is created for the bench and dropped after it, the Redis db emptied before and
after (no stale run jobs), whatever happened.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from .report import fail, log

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_DB_NAME", "kb_bench")
# The bench's own db (tests use 14/15), emptied before/after.
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
HOST = "127.0.0.1"


def admin_sql(sql: str) -> None:
    """One statement on the server's `postgres` database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def database_create(name: str) -> None:
    """A new, empty database `name` (an older one of that name is dropped first)."""
    database_drop(name)
    admin_sql(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def redis_flush_bench_db() -> None:
    """The bench's Redis db (broker and cache) starts and ends empty: no stale run jobs."""
    redis_flush(BENCH_REDIS)


def bench_env(tmp: Path, *, db_name: str = DB_NAME) -> dict[str, str]:
    """Production settings (DEBUG off) on database db_name and the bench's Redis db, files
    under tmp."""
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-" + secrets.token_hex(24),
        METRICS_TOKEN="bench-only-" + secrets.token_hex(12),
        DJANGO_ALLOWED_HOSTS=f"{HOST},localhost",
        SITE_URL=f"http://{HOST}",
        DATABASE_URL=f"{PG_SERVER}/{db_name}",
        CELERY_BROKER_URL=BENCH_REDIS,
        REDIS_URL=BENCH_REDIS,
        SECURE_SSL_REDIRECT="0",
        STATIC_ROOT=str(tmp / "static"),
        MEDIA_ROOT=str(tmp / "media"),
        KB_VAR_DIR=str(tmp / "var"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str, cwd: Path = ROOT) -> None:
    """manage.py ARGS in cwd (the tree being measured); its last line of output is logged."""
    cmd = [sys.executable, "manage.py", *args]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    out = result.stdout.strip()
    if out:
        log(f"    {out.splitlines()[-1]}")


def fresh_database(env: dict[str, str], *, db_name: str = DB_NAME) -> None:
    """An empty Redis db and a new, migrated db_name (env's database) with the static files
    collected: the in-process benches' set-up (the article throughput run takes the same steps
    with its log)."""
    redis_flush_bench_db()
    database_create(db_name)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
