"""The suite on a PostgreSQL catalog: every SQLite file catalog a test opens becomes a
database on a throw-away PostgreSQL server instead (``ASTRID_TEST_CATALOG=postgresql``).

Tests open catalogs as the product does, with ``astrid.catalog.connect`` and a SQLite file
URL under their temporary folder. `redirect_catalogs` (called from conftest.py before any
test module imports AstrID) replaces that entry point with one that maps each SQLite file
to its own PostgreSQL database, the same file to the same database, so a test that closes
and reopens its catalog, or two objects sharing one, see the same rows. A marker file
stands where the SQLite file would be, naming its database: a test that copies a catalog's
folder (a snapshot it works on privately) gets a copy of that database (``CREATE DATABASE
… TEMPLATE``) when it opens the copy. In-memory SQLite stays SQLite. The server starts
with the first catalog and stops when the tests end. Child processes (``astrid run`` in a
subprocess) are not redirected: tests of them pass their database URL explicitly.

A test that checks SQLite itself (its pragmas, its file, its DDL) says so with
``@pytest.mark.sqlite``; in this mode it checks the PostgreSQL equivalent or is not
collected (`SQLITE_ONLY`), and the suite reports how many.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import Any

#: The environment variable that selects the catalog backend of the run.
BACKEND_VARIABLE = "ASTRID_TEST_CATALOG"


def backend() -> str:
    """``sqlite`` (the default) or ``postgresql``."""
    return os.environ.get(BACKEND_VARIABLE, "sqlite")


def redirect_catalogs() -> None:
    """In PostgreSQL mode, route `astrid.catalog.connect` of SQLite files to PostgreSQL."""
    if backend() != "postgresql":
        return
    from sqlalchemy.engine import make_url

    import astrid.catalog
    import astrid.catalog.database
    from postgres_server import PostgresServer, start_postgres, stop_postgres

    original = astrid.catalog.database.connect
    databases: dict[str, str] = {}
    server: list[PostgresServer] = []
    lock = threading.Lock()

    def database_for(path: Path) -> str:
        with lock:
            if not server:
                server.append(start_postgres())
                atexit.register(stop_postgres, server[0])
            key = str(path)
            if key not in databases:
                databases[key] = server[0].new_database(template=_marked(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(MARKER + databases[key].rsplit("/", 1)[1] + "\n")
            return databases[key]

    def connect(url: str) -> Any:
        parsed = make_url(url)
        name = parsed.database or ""
        if parsed.get_backend_name() == "sqlite" and name not in ("", ":memory:"):
            if not name.startswith("file:"):
                url = database_for(Path(name).expanduser().resolve())
        return original(url)

    connect.__doc__ = original.__doc__
    astrid.catalog.connect = connect  # type: ignore[assignment]
    astrid.catalog.database.connect = connect  # type: ignore[assignment]


#: The first bytes of the file that stands in for a redirected SQLite catalog.
MARKER = "astrid test catalog on PostgreSQL: "


def _marked(path: Path) -> str | None:
    """The database a marker file at ``path`` names (a test copied a catalog's folder:
    the copy starts as a copy of that database), or None."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    return text[len(MARKER) :].strip() if text.startswith(MARKER) else None


#: The environment variable that selects the object store of the run: ``s3`` puts every
#: local store a test opens into a bucket on moto's S3 server.
STORE_VARIABLE = "ASTRID_TEST_STORE"


def store_backend() -> str:
    """``local`` (the default) or ``s3``."""
    return os.environ.get(STORE_VARIABLE, "local")


def redirect_stores() -> None:
    """In S3 mode, an `astrid.store.ObjectStore` opened on a local folder opens on
    ``s3://astrid-tests/<that folder>`` instead (moto's server, started here, its endpoint
    in the environment so child processes reach it too). Tests of the local store itself
    (``@pytest.mark.local_store``) are deselected then."""
    if store_backend() != "s3":
        return
    import s3fs

    import astrid.store
    from s3_server import start_s3

    endpoint = start_s3()
    s3fs.S3FileSystem(endpoint_url=endpoint).mkdir(BUCKET)
    original = astrid.store.ObjectStore.__init__

    fs = s3fs.S3FileSystem(endpoint_url=endpoint)

    def init(self: Any, root: str) -> None:
        text = str(root)
        if "://" not in text:
            folder = Path(text).expanduser().resolve()
            text = f"s3://{BUCKET}/{folder.as_posix().lstrip('/')}"
            _follow_copies(fs, folder, text)
        original(self, text)

    astrid.store.ObjectStore.__init__ = init  # type: ignore[method-assign]


#: The bucket every redirected store lives in (one folder each).
BUCKET = "astrid-tests"

#: The file in a redirected store's local folder naming its bucket folder.
STORE_MARKER = ".astrid-test-s3-store"


def _follow_copies(fs: Any, folder: Path, url: str) -> None:
    """Mark ``folder`` as the stand-in of ``url``; when it is a copy of another store's
    folder (a test copied a snapshot), copy that store's objects to ``url`` first."""
    marker = folder / STORE_MARKER
    try:
        source = marker.read_text().strip()
    except OSError:
        source = url
    if source != url and fs.exists(source):
        fs.copy(source, url, recursive=True)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(url + "\n")
