"""A real PostgreSQL server for tests: ``initdb`` into a temp dir, on a free loopback port.

The server refuses to run as root, so when the tests run as root it runs as the
``postgres`` system user the Debian package creates. It can be stopped and
started again on the same port and data (to test a database outage).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from servers import PROGRAMS, free_port, wait_port, which  # servers puts scripts/ on the path

PATHS = {"initdb": which("initdb"), "postgres": which("postgres")}


def _program(name: str) -> str:
    path = PATHS[name]
    if path is None:
        pytest.fail(
            f"{name} is not installed: `make test` installs the Debian package {PROGRAMS[name]!r}",
            pytrace=False,
        )
    return path


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dragonscope-postgres-"))
        self.data = self.dir / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        subprocess.run(
            [_program("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E",
             "UTF8", "--no-sync"],
            check=True, capture_output=True, cwd=self.dir, **self._as,
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        with open(self.dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                [_program("postgres"), "-D", str(self.data), "-p", str(self.port), "-h",
                 "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, **self._as,
            )  # fmt: skip
        wait_port(self.port, timeout=30)
        self._accepting(timeout=30)

    def _accepting(self, timeout: float) -> None:
        """The port opens before the server accepts sessions ("the database system is
        starting up"): wait for a session."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: SIGTERM waits for clients
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement (through psycopg: no client program needed)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
