"""A throw-away PostgreSQL server for the tests: ``initdb`` into a temporary folder, started
on a free localhost port (as the ``postgres`` user when the tests run as root, which
PostgreSQL refuses to run as), stopped and removed at the end of the session.

`postgres_server` starts one per test process; each test asks it for a fresh database
(`PostgresServer.new_database`), so tests never see each other's rows. Where PostgreSQL is
not installed the fixture skips with the reason (CI fails on skips: scripts/test.sh
installs Debian's ``postgresql`` first).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    """``args`` run as the postgres user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@dataclass
class PostgresServer:
    """A running server: its port and a superuser with trust authentication."""

    port: int
    folder: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self, template: str | None = None) -> str:
        """Create a database, empty or a copy of ``template`` (no one may be connected to
        it); its SQLAlchemy URL."""
        import psycopg

        name = f"astrid_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')  # type: ignore[arg-type]
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh catalog URL for a fixture parametrized over ``sqlite`` and ``postgresql``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


def start_postgres() -> PostgresServer:
    """Start a server (`postgres_server` says how); `stop_postgres` stops it.

    Raises
    ------
    RuntimeError
        If PostgreSQL or psycopg is not installed.
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL is not installed (initdb not found): apt-get install postgresql"
        )
    folder = Path(tempfile.mkdtemp(prefix="astrid-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    options += " -c max_connections=300"
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
             "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    return PostgresServer(port, folder)


def stop_postgres(server: PostgresServer) -> None:
    """Stop a server `start_postgres` started and remove its folder."""
    bin_dir = _bin_dir()
    assert bin_dir is not None
    data = server.folder / "data"
    subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        capture_output=True,
    )
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server per test process (xdist worker)."""
    if _bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (initdb not found): apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)
