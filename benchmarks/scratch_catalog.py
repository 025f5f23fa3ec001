"""A throw-away SQLite catalog and local object store for a benchmark run.

from scratch_catalog import scratch_catalog
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from astrid.catalog import Catalog, connect
from astrid.store import ObjectStore


@contextmanager
def scratch_catalog(where: Path | None = None) -> Iterator[tuple[Catalog, ObjectStore, Path]]:
    """Catalog, store and their temporary folder (under ``where``), removed afterwards."""
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        root = Path(tmp)
        with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
            yield catalog, ObjectStore(str(root / "store")), root
