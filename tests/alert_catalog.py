"""Catalog rows for alert tests: finished runs whose candidates have objects."""

from __future__ import annotations

from astrid.catalog import Catalog
from astrid.catalog.alerts import SentAlert


def done_run(catalog: Catalog, frame: int, n: int = 3) -> int:
    """A finished run of a new science frame with ``n`` candidates; returns its id."""
    science = catalog.register_observation(
        content_sha256=f"{frame:064x}",
        name=f"frame-{frame}",
        path=f"/data/{frame}.fits",
        role="science",
        mjd=61000.0 + frame,
        filter="r",
        exptime=30.0,
        gain=1.5,
        shape=(64, 64),
        wcs_header=None,
    )
    run_id = catalog.start_run(
        key=f"run-{frame}", science_id=science, reference_id=None, config={}, code_version="1"
    )
    finish(catalog, run_id, n)
    return run_id


def finish(catalog: Catalog, run_id: int, n: int) -> None:
    """Finish (or redo) a run with ``n`` candidates."""
    rows = [
        {"x": 1.0 + i, "y": 2.0, "ra": 150.0 + i / 360, "dec": 2.0, "sign": 1, "scorr": 8.0}
        for i in range(n)
    ]
    catalog.finish_run(run_id, candidates=rows, stats={}, timings={}, products={})


def sent(alert_id: int, **fields: object) -> SentAlert:
    """An alert marked written, with made-up store keys."""
    return SentAlert(alert_id, f"sha256/{alert_id}.avro", f"sha256/{alert_id}.json", dict(fields))
