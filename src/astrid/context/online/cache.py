"""A small SQLite cache of online cone searches, so a position is asked once per TTL.

The key is the service (with its table and endpoint), the query position rounded to
1e-5 degree (0.036 arcsec) and the radius; the value is the rows the service returned, as
JSON. Separations are recomputed from the position actually asked, so two positions that
round alike still get exact separations. Only answers are kept: a failed query is asked
again next time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from astrid.errors import ConfigurationError

__all__ = ["QueryCache"]

log = logging.getLogger(__name__)

#: Decimal places of degrees kept in the cache key.
POSITION_DECIMALS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cone (
    service TEXT NOT NULL,
    ra REAL NOT NULL,
    dec REAL NOT NULL,
    radius_arcsec REAL NOT NULL,
    fetched REAL NOT NULL,
    rows TEXT NOT NULL,
    PRIMARY KEY (service, ra, dec, radius_arcsec)
)
"""


class QueryCache:
    """Rows of earlier cone searches, per service, position and radius, for ``ttl_s``.

    Parameters
    ----------
    path : Path
        The SQLite file (created with its folder when missing).
    ttl_s : float
        Seconds an answer stays valid, > 0.
    clock : callable, optional
        Returns the time in seconds (``time.time``); tests pass their own.
    """

    def __init__(self, path: Path, ttl_s: float, *, clock: Callable[[], float] = time.time) -> None:
        if not ttl_s > 0:
            raise ConfigurationError(f"online cache: ttl must be > 0 seconds, got {ttl_s!r}")
        self.path = Path(path)
        self.ttl_s = float(ttl_s)
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise ConfigurationError(f"{self.path}: cannot open the online cache: {e}") from e

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed."""
        with closing(sqlite3.connect(self.path, timeout=30.0)) as db, db:
            yield db

    @staticmethod
    def _key(service: str, ra: float, dec: float, radius_arcsec: float) -> tuple[Any, ...]:
        return (
            service,
            round(ra % 360.0, POSITION_DECIMALS),
            round(dec, POSITION_DECIMALS),
            float(radius_arcsec),
        )

    def get(
        self, service: str, ra: float, dec: float, radius_arcsec: float
    ) -> list[dict[str, Any]] | None:
        """The rows kept for this search, or None when absent, older than the TTL or
        unreadable (a broken cache only costs a new query)."""
        try:
            with self._connect() as db:
                found = db.execute(
                    "SELECT fetched, rows FROM cone WHERE service = ? AND ra = ? AND dec = ? "
                    "AND radius_arcsec = ?",
                    self._key(service, ra, dec, radius_arcsec),
                ).fetchone()
            if found is None or self._clock() - float(found[0]) > self.ttl_s:
                return None
            rows: list[dict[str, Any]] = json.loads(found[1])
        except (sqlite3.Error, ValueError, TypeError) as e:
            log.warning("%s: online cache unreadable, asking again: %s", self.path, e)
            return None
        return rows

    def put(
        self, service: str, ra: float, dec: float, radius_arcsec: float, rows: list[dict[str, Any]]
    ) -> None:
        """Keep the rows of one search (replacing an older answer); a write that fails is
        logged and dropped."""
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT OR REPLACE INTO cone VALUES (?, ?, ?, ?, ?, ?)",
                    (*self._key(service, ra, dec, radius_arcsec), self._clock(), json.dumps(rows)),
                )
        except sqlite3.Error as e:
            log.warning("%s: online cache not written: %s", self.path, e)
