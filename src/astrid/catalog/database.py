"""Opening the catalog database: engine, SQLite pragmas and Alembic migrations.

`connect` is the one entry point: it accepts any SQLAlchemy URL (SQLite file by default,
PostgreSQL at scale), brings the schema to the latest migration and returns a `Catalog`.
The migrations are found inside the installed package, never relative to the working
directory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from astrid.catalog.repository import Catalog
from astrid.errors import StorageError

__all__ = ["MIGRATIONS_DIR", "alembic_config", "connect", "current_revision", "head_revision"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x417374724944  # "AstrID": any constant shared by all AstrID processes


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no ``alembic.ini``).

    Parameters
    ----------
    url : str, optional
        Database URL stored as ``sqlalchemy.url``, for commands run without a connection.

    Returns
    -------
    alembic.config.Config
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation would treat '%' in passwords as syntax.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The latest migration revision shipped with the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the catalog has no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def connect(url: str) -> Catalog:
    """Open (creating if needed) the catalog at ``url`` and migrate it to the latest schema.

    A server database's connection pool is set from the URL's query string
    (`POOL_OPTIONS`: ``?pool_size=10&max_overflow=20&pool_timeout=30&pool_recycle=1800``;
    SQLAlchemy's defaults otherwise), and a dropped connection is replaced before use.
    For SQLite the parent directory of the file is created, and every connection gets
    ``foreign_keys=ON``, ``journal_mode=WAL`` (readers do not block the writer) and a busy
    timeout so concurrent writers wait instead of failing. ``sqlite://`` (in memory) keeps
    one shared connection for the engine's lifetime.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////data/astrid.sqlite`` or
        ``postgresql+psycopg://user:pw@host/astrid``.

    Returns
    -------
    Catalog
        The repository over the migrated database; call `Catalog.close` when done.

    Raises
    ------
    StorageError
        If the URL is invalid, the directory cannot be created or the migration fails.
    """
    try:
        sa_url = make_url(url)
    except SQLAlchemyError as e:
        raise StorageError(f"invalid database URL {url!r}: {e}", url=url) from e
    is_sqlite = sa_url.get_backend_name() == "sqlite"
    engine_kwargs: dict[str, Any] = {}
    if is_sqlite:
        database = sa_url.database or ""
        if database in ("", ":memory:") or sa_url.query.get("mode") == "memory":
            engine_kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif not database.startswith("file:"):
            parent = Path(database).expanduser().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
                _create_private(Path(database).expanduser())
            except OSError as e:
                raise StorageError(
                    f"cannot create the catalog directory {parent}: {e}", url=url
                ) from e
    else:
        # a server connection that dropped (a restart, a proxy timeout) is replaced, not used
        engine_kwargs.update(pool_pre_ping=True)
        sa_url, pool = _pool_options(sa_url, url)
        engine_kwargs.update(pool)
    try:
        engine = create_engine(sa_url, **engine_kwargs)
    except (SQLAlchemyError, ImportError) as e:
        raise StorageError(f"cannot open database {sa_url!r}: {e}", url=url) from e
    if is_sqlite:
        event.listen(engine, "connect", _set_sqlite_pragmas)
    try:
        _upgrade(engine)
    except Exception:
        engine.dispose()
        raise
    return Catalog(engine)


#: Connection-pool settings read from a server URL's query string (then removed from it),
#: with their bounds: ``postgresql+psycopg://h/astrid?pool_size=10&max_overflow=20``.
POOL_OPTIONS = {
    "pool_size": (1, 1000),
    "max_overflow": (0, 1000),
    "pool_timeout": (1, 3600),
    "pool_recycle": (-1, 86400),
}


def _pool_options(sa_url: URL, url: str) -> tuple[URL, dict[str, int]]:
    """The URL without its pool settings, and those settings (`POOL_OPTIONS`).

    Raises
    ------
    StorageError
        Naming the setting, when it is not a whole number within its bounds.
    """
    options: dict[str, int] = {}
    for name, (low, high) in POOL_OPTIONS.items():
        raw = sa_url.query.get(name)
        if raw is None:
            continue
        text = raw if isinstance(raw, str) else raw[-1]
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise StorageError(
                f"database URL setting {name}={text!r}: expected a whole number "
                f"from {low} to {high}",
                setting=name,
            )
        options[name] = value
    return sa_url.difference_update_query(list(options)), options


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600; SQLite gives its -wal and
    -shm files the same mode); an existing file is left as it is."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Per-connection SQLite settings (pragmas are not persistent, except journal_mode)."""
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching a new file to WAL needs its lock, and several
        # processes opening a new catalog at once must wait for each other, not fail.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent), retrying while another connection holds it.

    SQLite does not apply the busy timeout to this switch, so processes opening a new
    catalog at the same moment can see "database is locked"; once any of them has switched
    the file, the others find it in WAL mode already.
    """
    for attempt in range(100):
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 99:
                raise
            time.sleep(min(0.005 * (attempt + 1), 0.1))


def _lock_for_migration(conn: Connection) -> None:
    """Serialise concurrent migrations: the second process waits, then finds the schema at head.

    Called at the start of the migration transaction.
    """
    if conn.dialect.name == "sqlite":
        # pysqlite opens transactions lazily, before the first DML statement; take the write
        # lock now so that reading alembic_version and creating tables happen under it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")


def _upgrade(engine: Engine) -> None:
    """Run ``alembic upgrade head`` on ``engine``; a no-op when already at head."""
    config = alembic_config()
    is_sqlite = engine.dialect.name == "sqlite"
    shown = engine.url.render_as_string(hide_password=True)
    try:
        engine.connect().close()
    except OperationalError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise StorageError(
            f"cannot reach the catalog database at {shown}: {reason}", url=shown
        ) from e
    try:
        with engine.connect() as conn:
            if is_sqlite:
                # Batch migrations rebuild tables; with foreign keys on, dropping the old
                # table would cascade-delete dependent rows. Must be set outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    _lock_for_migration(conn)
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                if is_sqlite:
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    conn.commit()
                    if problems:
                        raise StorageError(
                            f"migration left {len(problems)} broken foreign key(s): {problems[:5]}",
                            n_problems=len(problems),
                        )
            finally:
                if is_sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    except SQLAlchemyError as e:
        raise StorageError(
            f"cannot migrate the catalog at {shown} to the latest schema: {e}", url=shown
        ) from e
    logger.debug("catalog at %r is at the latest schema", engine.url)
