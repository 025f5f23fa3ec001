"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, create_engine

from astrid.catalog import connect
from astrid.catalog.database import SQLITE_BUSY_TIMEOUT_MS, current_revision, head_revision
from astrid.catalog.models import Base
from postgres_server import PostgresServer


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[Engine]:
    catalog = connect(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'astrid.sqlite'}")
    yield catalog.engine
    catalog.close()


def _diffs(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_migration_matches_models(migrated: Engine) -> None:
    assert _diffs(migrated, Base.metadata) == []


def test_comparison_would_notice_a_difference(migrated: Engine) -> None:
    # guard against a vacuous comparison: a changed model must show up
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["events"].append_column(Column("extra", Integer, nullable=True))
    diffs = _diffs(migrated, changed)
    assert len(diffs) == 1
    assert "extra" in str(diffs[0])


def _ddl(engine: Engine) -> dict[str, list[str]]:
    """Each table's and index's CREATE statement as sorted, normalised lines."""
    query = (
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'alembic_%' AND name NOT LIKE 'sqlite_%'"
    )
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(query).fetchall()
    return {
        # batch migrations (table rebuilds) quote the table name; create_all does not
        name: sorted(
            re.sub(r",\s*$", "", line.strip()).replace('"', "") for line in sql.splitlines()
        )
        for name, sql in rows
    }


@pytest.mark.sqlite
def test_migration_ddl_equals_create_all(migrated: Engine, tmp_path: Path) -> None:
    # compare_metadata ignores CHECK constraints; the DDL does not
    fresh = create_engine(f"sqlite:///{tmp_path / 'create_all.sqlite'}")
    Base.metadata.create_all(fresh)
    assert _ddl(migrated) == _ddl(fresh)
    fresh.dispose()


@pytest.mark.sqlite
def test_sqlite_pragmas(migrated: Engine) -> None:
    with migrated.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_reconnect_is_a_no_op_migration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    with caplog.at_level(logging.INFO, logger="alembic"):
        first = connect(url)
    assert any("Running upgrade" in r.getMessage() for r in caplog.records)
    assert current_revision(first.engine) == head_revision()
    first.record_event("Kept", {"n": 1})
    first.close()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="alembic"):
        second = connect(url)
    assert not any("Running upgrade" in r.getMessage() for r in caplog.records)
    assert current_revision(second.engine) == head_revision()
    assert [e.payload for e in second.events()] == [{"n": 1}]
    assert _diffs(second.engine, Base.metadata) == []
    second.close()


def test_concurrent_first_connects_migrate_once(tmp_path: Path) -> None:
    # workers started together on a new database must not race to create the tables
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    barrier = threading.Barrier(6)

    def open_catalog(_: int) -> str | None:
        barrier.wait()
        catalog = connect(url)
        revision = current_revision(catalog.engine)
        catalog.close()
        return revision

    with ThreadPoolExecutor(max_workers=6) as pool:
        revisions = list(pool.map(open_catalog, range(6)))
    assert revisions == [head_revision()] * 6


@pytest.mark.sqlite
def test_migrations_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = connect("sqlite:///relative/astrid.sqlite")
    assert (tmp_path / "relative" / "astrid.sqlite").is_file()
    assert current_revision(catalog.engine) == head_revision()
    catalog.close()


@pytest.mark.sqlite
def test_downgrade_and_upgrade_round_trip(migrated: Engine, tmp_path: Path) -> None:
    from alembic import command

    from astrid.catalog.database import alembic_config

    before = _ddl(migrated)
    config = alembic_config(str(migrated.url))
    command.downgrade(config, "0001")
    assert "labels" not in _ddl(migrated)
    command.upgrade(config, "head")
    assert _ddl(migrated) == before


# -- PostgreSQL: the same migrations on a real server ------------------------------------


@pytest.fixture
def pg_migrated(postgres_server: PostgresServer) -> Iterator[Engine]:
    catalog = connect(postgres_server.new_database())
    yield catalog.engine
    catalog.close()


def _pg_tables(engine: Engine) -> dict[str, list[tuple[str, str, str]]]:
    """Each table's columns (name, type, nullable) as PostgreSQL reports them."""
    query = (
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name <> 'alembic_version' "
        "ORDER BY table_name, column_name"
    )
    out: dict[str, list[tuple[str, str, str]]] = {}
    with engine.connect() as conn:
        for table, column, kind, nullable in conn.exec_driver_sql(query):
            out.setdefault(table, []).append((column, kind, nullable))
    return out


def test_postgres_migration_matches_models(pg_migrated: Engine) -> None:
    # a fresh PostgreSQL catalog once failed here: batch migrations recreated tables
    # whose primary keys other tables' foreign keys depend on
    assert current_revision(pg_migrated) == head_revision()
    assert _diffs(pg_migrated, Base.metadata) == []


def test_postgres_downgrade_and_upgrade_round_trip(pg_migrated: Engine) -> None:
    from alembic import command

    from astrid.catalog.database import alembic_config

    before = _pg_tables(pg_migrated)
    config = alembic_config(pg_migrated.url.render_as_string(hide_password=False))
    command.downgrade(config, "0001")
    assert "labels" not in _pg_tables(pg_migrated)
    command.upgrade(config, "head")
    assert _pg_tables(pg_migrated) == before
