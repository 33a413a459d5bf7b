"""A PostgreSQL server of a test's own, on a spare loopback port, holding a copy of the test
database's schema, so a test can restart it under a worker without touching the shared one."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile

import pytest
from django.conf import settings
from django.db import connection

from .brokers import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else name


class PostgresServer:
    """initdb'd in a temporary directory; run as the `postgres` OS user when the tests run as
    root (PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kb-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run(_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def stop(self) -> None:
        # Fast: the server ends every session at once, as in a real restart or failover.
        self._run(_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def copy_schema(self, *, name: str) -> None:
        """Create database `name` with the test database's tables (Django's own migrations ran
        there already)."""
        db = settings.DATABASES["default"]
        self._run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        dump = subprocess.run(
            [_bin("pg_dump"), "-s", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], db["NAME"]],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(
            [_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-U", "postgres", "-d", name],
            input=dump,
            check=True,
            capture_output=True,
        )

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_database(transactional_db):
    """This test's database on a PostgreSQL server of its own: the test process's connection
    and any worker started with `own_database.env` use it; the test may stop and start it."""
    server = PostgresServer()
    server.start()
    name = "kb_own"
    server.copy_schema(name=name)
    server.env = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{server.port}/{name}"}
    original = {key: connection.settings_dict[key] for key in ("NAME", "PORT", "HOST")}
    connection.close()
    connection.settings_dict.update(NAME=name, PORT=str(server.port), HOST="127.0.0.1")
    try:
        yield server
    finally:
        connection.close()
        connection.settings_dict.update(original)
        server.remove()
