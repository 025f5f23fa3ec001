"""Light curves in the catalog: forced-photometry points, run footprints, the objects stage.

A point is one object measured on one run's difference image (`LightCurvePoint`); the pair
(object, run) is unique, so re-measuring replaces the point (an upsert), never adds one.
Which runs can hold a point for a position: done runs whose footprint circle
(``footprint_ra/dec/radius``, set by the objects stage from the difference image's WCS)
contains it; the caller then tests the exact footprint. A run's objects stage goes
``pending`` (set by `Catalog.finish_run`) → ``done`` or ``failed``, so a stage cut short by a
crash is found again (`runs_with_objects_stage`).

All functions take the `Catalog` first; positions are degrees ICRS, times MJD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import (
    Candidate,
    LightCurvePoint,
    Observation,
    ProcessingRun,
    SkyObject,
    utcnow,
)
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.catalog.sky_index import angular_separation_deg, cone_ranges
from astrid.errors import StorageError

__all__ = [
    "POINT_COLUMNS",
    "LightCurvePointRecord",
    "ObjectPosition",
    "RunFootprint",
    "detections_in_runs",
    "drop_undetected_points",
    "light_curves",
    "objects_near",
    "objects_of_runs",
    "record_points",
    "runs_covering",
    "runs_with_objects_stage",
    "set_objects_done",
    "set_objects_stage",
]

#: The columns a point is written with (besides its id and creation time).
POINT_COLUMNS = (
    "object_id",
    "run_id",
    "observation_id",
    "candidate_id",
    "mjd",
    "band",
    "x",
    "y",
    "flux",
    "flux_err",
    "zero_point",
    "detected",
)


@dataclass(frozen=True)
class LightCurvePointRecord:
    """One forced-photometry point: difference flux of an object on one run's image."""

    id: int
    object_id: int
    run_id: int
    observation_id: int
    candidate_id: int | None
    mjd: float | None
    band: str | None
    x: float
    y: float
    flux: float | None
    flux_err: float | None
    zero_point: float | None
    detected: bool


_RECORD_COLUMNS = tuple(f.name for f in fields(LightCurvePointRecord))


@dataclass(frozen=True)
class RunFootprint:
    """A done run that may cover a position: where its difference image is, and when."""

    run_id: int
    science_id: int
    products: dict[str, Any]
    mjd: float | None
    band: str | None


@dataclass(frozen=True)
class ObjectPosition:
    """An object's id and position, degrees, and whether it is flagged as moving."""

    id: int
    ra: float
    dec: float
    moving: bool = False


def set_objects_stage(
    catalog: Catalog,
    run_id: int,
    status: str,
    *,
    error: str | None = None,
    footprint: tuple[float, float, float] | None = None,
) -> None:
    """Record a run's objects stage (``pending``, ``done``, ``failed``) and its footprint.

    ``footprint`` is (ra, dec, radius) in degrees: a circle holding the difference image.

    Raises
    ------
    StorageError
        If the run does not exist or the write fails.
    """
    values: dict[str, Any] = {"objects_status": status, "objects_error": error}
    if footprint is not None:
        ra, dec, radius = (float(v) for v in footprint)
        values |= {"footprint_ra": ra, "footprint_dec": dec, "footprint_radius": radius}
    with catalog_errors(f"objects stage of run {run_id}", run_id=run_id):
        with catalog.session() as session, session.begin():
            done = session.execute(
                update(ProcessingRun).where(ProcessingRun.id == run_id).values(**values)
            )
            if not getattr(done, "rowcount", 0):
                raise StorageError(f"no processing run with id {run_id}", run_id=run_id)


def set_objects_done(catalog: Catalog, run_ids: Iterable[int]) -> None:
    """Record many runs' objects stage as ``done`` in one transaction (as
    `set_objects_stage`; runs done already are not written again).

    Raises
    ------
    StorageError
        If the write fails.
    """
    ids = sorted(set(run_ids))
    with catalog_errors("objects stage of runs"), catalog.session() as session, session.begin():
        for k in range(0, len(ids), 500):
            session.execute(
                update(ProcessingRun)
                .where(ProcessingRun.id.in_(ids[k : k + 500]))
                .where(ProcessingRun.objects_status != "done")
                .values(objects_status="done", objects_error=None)
            )


def runs_with_objects_stage(catalog: Catalog, status: str = "pending") -> list[int]:
    """Ids of done runs whose objects stage has ``status``, oldest first."""
    query = (
        select(ProcessingRun.id)
        .where(ProcessingRun.status == "done", ProcessingRun.objects_status == status)
        .order_by(ProcessingRun.id)
    )
    with catalog_errors("runs by objects stage"), catalog.session() as session:
        return [int(i) for i in session.scalars(query)]


def _covering(dec_low: float, dec_high: float) -> Any:
    # The dec index narrows to a band; the circle test is exact on the sphere (below).
    return (
        select(
            ProcessingRun.id,
            ProcessingRun.science_id,
            ProcessingRun.products_json,
            ProcessingRun.footprint_ra,
            ProcessingRun.footprint_dec,
            ProcessingRun.footprint_radius,
            Observation.mjd,
            Observation.filter,
        )
        .join(Observation, Observation.id == ProcessingRun.science_id)
        .where(
            ProcessingRun.status == "done",
            ProcessingRun.footprint_dec.is_not(None),
            ProcessingRun.footprint_dec - ProcessingRun.footprint_radius <= dec_high,
            ProcessingRun.footprint_dec + ProcessingRun.footprint_radius >= dec_low,
        )
        .order_by(ProcessingRun.id)
    )


def runs_covering(
    catalog: Catalog, positions: Sequence[tuple[float, float]]
) -> list[list[RunFootprint]]:
    """For each ``(ra, dec)``, the done runs whose footprint circle contains it, by id.

    One query for all the positions (the runs in their declination band), then the exact
    circle test on the sphere for each position. The circle is an outer bound: the caller
    tests the exact footprint with the difference image's WCS. Runs whose objects stage
    never set a footprint are not found.
    """
    if not positions:
        return []
    ra = np.array([p[0] for p in positions], dtype=float)
    dec = np.array([p[1] for p in positions], dtype=float)
    with catalog_errors("runs covering positions"), catalog.session() as session:
        rows = session.execute(_covering(float(dec.min()), float(dec.max()))).all()
    found: list[list[RunFootprint]] = [[] for _ in positions]
    for row in rows:
        inside = np.flatnonzero(angular_separation_deg(ra, dec, row[3], row[4]) <= row[5])
        if not inside.size:
            continue
        products = loads_json(row[2]) if row[2] else {}
        footprint = RunFootprint(
            run_id=int(row[0]),
            science_id=int(row[1]),
            products=products if isinstance(products, dict) else {},
            mjd=row[6],
            band=row[7],
        )
        for k in inside:
            found[k].append(footprint)
    return found


def objects_near(
    catalog: Catalog, ra: float, dec: float, radius_deg: float
) -> list[ObjectPosition]:
    """Objects within ``radius_deg`` of a position (through the HEALPix index), by id."""
    ranges = cone_ranges(ra, dec, radius_deg)
    if not ranges:
        return []
    # No ORDER BY in SQL: SQLite would then walk the primary key (every row) to avoid a
    # sort instead of searching the HEALPix index; the few rows are sorted here.
    query = select(SkyObject.id, SkyObject.ra, SkyObject.dec, SkyObject.moving).where(
        or_(*(and_(SkyObject.healpix >= a, SkyObject.healpix < b) for a, b in ranges))
    )
    with catalog_errors("objects near a position"), catalog.session() as session:
        rows = sorted(session.execute(query).all(), key=lambda r: r[0])
    if not rows:
        return []
    sep = angular_separation_deg(
        np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), ra, dec
    )
    return [
        ObjectPosition(int(r[0]), float(r[1]), float(r[2]), bool(r[3]))
        for r, s in zip(rows, sep, strict=True)
        if s <= radius_deg
    ]


def detections_in_runs(
    catalog: Catalog, run_ids: Iterable[int], object_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], int]:
    """(object, run) → the candidate of that object in that run with the largest |S_corr|."""
    runs = sorted(set(run_ids))
    if not runs:
        return {}
    query = select(Candidate.object_id, Candidate.run_id, Candidate.id, Candidate.scorr).where(
        Candidate.run_id.in_(runs), Candidate.object_id.is_not(None)
    )
    if object_ids is not None:
        query = query.where(Candidate.object_id.in_(sorted(set(object_ids))))
    best: dict[tuple[int, int], tuple[float, int]] = {}
    with catalog_errors("detections of objects"), catalog.session() as session:
        for object_id, run_id, candidate_id, scorr in session.execute(query):
            if run_id is None or object_id is None:  # excluded by the query
                continue
            key = (int(object_id), int(run_id))
            strength = abs(float(scorr))
            if key not in best or strength > best[key][0]:
                best[key] = (strength, int(candidate_id))
    return {key: value[1] for key, value in best.items()}


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LightCurvePoint)
    replaced = {c: statement.excluded[c] for c in POINT_COLUMNS if c not in ("object_id", "run_id")}
    # rows as parameters of one cached statement (executemany), not compiled into its text;
    # through the connection (Core), not the ORM's bulk insert, which costs ten times more
    session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["object_id", "run_id"],
            set_={**replaced, "created_at": statement.excluded.created_at},
        ),
        rows,
    )


def record_points(catalog: Catalog, points: Sequence[Mapping[str, Any]]) -> int:
    """Write forced-photometry points, replacing any of the same (object, run); one transaction.

    Points of objects deleted meanwhile (merged or emptied by a re-run) are skipped.

    Returns
    -------
    int
        How many points were written.

    Raises
    ------
    StorageError
        If a point lacks a column of `POINT_COLUMNS`, or the write fails (nothing is then
        written).
    """
    if not points:
        return 0
    now = utcnow()
    rows = []
    for i, point in enumerate(points):
        missing = [c for c in POINT_COLUMNS if c not in point]
        if missing:
            raise StorageError(f"light-curve point {i} lacks {', '.join(missing)}")
        rows.append({c: point[c] for c in POINT_COLUMNS} | {"created_at": now})
    with catalog_errors("record light-curve points"):
        with catalog.session() as session, session.begin():
            wanted = sorted({int(r["object_id"]) for r in rows})
            alive = set(session.scalars(select(SkyObject.id).where(SkyObject.id.in_(wanted))))
            rows = [r for r in rows if int(r["object_id"]) in alive]
            for start in range(0, len(rows), 500):
                _upsert(session, rows[start : start + 500])
    return len(rows)


def light_curves(
    catalog: Catalog, object_ids: Iterable[int]
) -> dict[int, list[LightCurvePointRecord]]:
    """Each object's points ordered by MJD (then run); objects with none map to ``[]``."""
    ids = sorted(set(object_ids))
    out: dict[int, list[LightCurvePointRecord]] = {i: [] for i in ids}
    if not ids:
        return out
    with catalog_errors("light curves"), catalog.session() as session:
        for start in range(0, len(ids), 500):
            # The record's columns, not ORM entities: a batch reads tens of thousands of points.
            query = (
                select(*(LightCurvePoint.__table__.c[name] for name in _RECORD_COLUMNS))
                .where(LightCurvePoint.object_id.in_(ids[start : start + 500]))
                .order_by(
                    LightCurvePoint.object_id,
                    func.coalesce(LightCurvePoint.mjd, 0.0),
                    LightCurvePoint.run_id,
                )
            )
            for row in session.execute(query):  # the record's fields, in order
                out[row.object_id].append(LightCurvePointRecord(*row))
    return out


def objects_of_runs(catalog: Catalog, run_ids: Iterable[int]) -> list[int]:
    """Objects a set of runs touched: detected by them or measured on their images, by id."""
    runs = sorted(set(run_ids))
    if not runs:
        return []
    found: set[int] = set()
    with catalog_errors("objects of runs"), catalog.session() as session:
        for start in range(0, len(runs), 500):
            chunk = runs[start : start + 500]
            found.update(
                session.scalars(
                    select(LightCurvePoint.object_id).where(LightCurvePoint.run_id.in_(chunk))
                )
            )
            found.update(
                i
                for i in session.scalars(
                    select(Candidate.object_id).where(
                        Candidate.run_id.in_(chunk), Candidate.object_id.is_not(None)
                    )
                )
                if i is not None
            )
    return sorted(found)


def drop_undetected_points(catalog: Catalog, object_ids: Iterable[int]) -> int:
    """Remove the non-detection points of objects (moving objects have no light curve).

    Returns
    -------
    int
        How many points were removed.
    """
    ids = sorted(set(object_ids))
    if not ids:
        return 0
    with catalog_errors("drop non-detections"):
        with catalog.session() as session, session.begin():
            result = session.execute(
                delete(LightCurvePoint).where(
                    LightCurvePoint.object_id.in_(ids), LightCurvePoint.detected.is_(False)
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
