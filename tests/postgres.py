"""A throwaway PostgreSQL cluster from Debian's binaries: real server, temp dir, free port.

`initdb` + `pg_ctl` into a directory under /tmp (as the `postgres` user when running as root,
since PostgreSQL refuses to run as root); trust authentication on 127.0.0.1 only. Used by the
interaction-store contract tests, the two-process API test and scripts/bench_interactions.py.
Where the binaries are missing, `postgres_cluster` skips with the reason (scripts/test.sh
installs Debian's `postgresql` package).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin() -> Path | None:
    found = [b for b in PG_BINS if (b / "initdb").is_file() and (b / "pg_ctl").is_file()]
    return found[0] if found else None


def missing_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if postgres_bin() is None:
        return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (install `postgresql`)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to run the server as"
    return None


class PostgresCluster:
    def __init__(self) -> None:
        from tests.conftest import free_port  # not at the top: conftest imports this module

        bin_dir = postgres_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="musicrec-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresCluster:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database on the cluster; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
