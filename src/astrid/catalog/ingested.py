"""Candidates from survey alert packets: one observation and run per survey exposure.

A survey's exposure (ZTF ``pid``, Rubin ``visit-detector``) has no image here, only the
packets cut from it; it becomes an `Observation` (named ``<survey> <exposure>``, its
content hash derived from that name) and a done `ProcessingRun` (key
``ingest:<survey>:<exposure>``) that hold the exposure's ingested candidates and light-curve
points. `exposure_runs` gets or creates them (a concurrent ingester creating the same one
makes the insert fail; the row is then read back). `append_candidates` adds runs' new
candidates after those they have (numbers continue), skipping any whose (survey, source
id) is stored already (the unique pair decides: a packet ingested twice is stored once),
and associates the new ones with objects in the same transaction, under the association
lock.

All functions take the `Catalog` first; times are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from astrid.catalog.candidate_rows import candidate_rows
from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import (
    Candidate,
    LightCurvePoint,
    Observation,
    ProcessingRun,
    utcnow,
)
from astrid.catalog.objects import associate_candidates, lock_association
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import StorageError
from astrid.objects import DEFAULT_RADIUS_ARCSEC

__all__ = [
    "Exposure",
    "append_candidates",
    "detected_pairs",
    "exposure_runs",
    "stored_sources",
]


@dataclass(frozen=True)
class Exposure:
    """A survey exposure: what identifies it, and what its observation records."""

    survey: str
    exposure: str
    mjd: float | None
    band: str | None
    path: str

    @property
    def run_key(self) -> str:
        return f"ingest:{self.survey}:{self.exposure}"


def _content_hash(exposure: Exposure) -> str:
    return hashlib.sha256(exposure.run_key.encode()).hexdigest()


def exposure_runs(
    catalog: Catalog, exposures: Sequence[Exposure], *, code_version: str
) -> dict[tuple[str, str], tuple[int, int]]:
    """``(survey, exposure)`` → (observation id, run id), created where missing.

    All in one transaction; if a concurrent ingester registers one of them meanwhile (the
    insert fails), each is got or created on its own instead.
    """
    unique = {(e.survey, e.exposure): e for e in exposures}
    with catalog_errors("register exposures"), catalog.session() as session:
        try:
            with session.begin():
                return _get_or_create(session, list(unique.values()), code_version)
        except IntegrityError:
            pass
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for key, exposure in unique.items():
        for _ in range(3):  # a concurrent ingester's insert won: read it back
            with catalog_errors(f"register exposure {exposure.run_key}"):
                with catalog.session() as session:
                    try:
                        with session.begin():
                            out.update(_get_or_create(session, [exposure], code_version))
                            break
                    except IntegrityError:
                        continue
        if key not in out:
            raise StorageError(f"could not register {exposure.run_key}", key=exposure.run_key)
    return out


def _get_or_create(
    session: Session, exposures: Sequence[Exposure], code_version: str
) -> dict[tuple[str, str], tuple[int, int]]:
    """The exposures' (observation id, run id), created where missing, in the session's
    transaction: one query per 500 to look them up, one insert for the missing."""
    sha = {e.run_key: _content_hash(e) for e in exposures}
    observations = _ids(session, Observation.content_sha256, Observation.id, list(sha.values()))
    new = [e for e in exposures if sha[e.run_key] not in observations]
    if new:
        rows = [
            {
                "content_sha256": sha[e.run_key],
                "name": f"{e.survey} {e.exposure}",
                "path": e.path,
                "role": "science",
                "mjd": e.mjd,
                "filter": e.band,
                "status": "processed",
                # no image here: its exposure time and gain are unknown (0 and 1), its
                # shape that of the stamps
                "exptime": 0.0,
                "gain": 1.0,
                "shape_y": 63,
                "shape_x": 63,
            }
            for e in new
        ]
        returned = session.execute(
            insert(Observation).returning(Observation.content_sha256, Observation.id), rows
        )
        observations.update((str(k), int(i)) for k, i in returned)
    runs = _ids(session, ProcessingRun.key, ProcessingRun.id, list(sha))
    new = [e for e in exposures if e.run_key not in runs]
    if new:
        now = utcnow()
        run_rows: list[dict[str, Any]] = [
            {
                "key": e.run_key,
                "science_id": observations[sha[e.run_key]],
                "reference_id": None,
                "status": "done",
                "config_json": dumps_json(
                    {"ingest": e.survey, "exposure": e.exposure}, f"config of {e.run_key}"
                ),
                "code_version": code_version,
                "started_at": now,
                "finished_at": now,
                "objects_status": "pending",
            }
            for e in new
        ]
        returned = session.execute(
            insert(ProcessingRun).returning(ProcessingRun.key, ProcessingRun.id), run_rows
        )
        runs.update((str(k), int(i)) for k, i in returned)
    return {
        (e.survey, e.exposure): (observations[sha[e.run_key]], runs[e.run_key]) for e in exposures
    }


def _ids(session: Session, column: Any, id_column: Any, values: Sequence[str]) -> dict[str, int]:
    """value → id of the rows whose ``column`` is one of ``values``."""
    found: dict[str, int] = {}
    for k in range(0, len(values), 500):
        query = select(column, id_column).where(column.in_(values[k : k + 500]))
        found.update((str(v), int(i)) for v, i in session.execute(query))
    return found


def stored_sources(catalog: Catalog, survey: str, source_ids: Sequence[int]) -> set[int]:
    """Which of these survey detection ids are stored already."""
    rows = [{"survey": survey, "source_id": i} for i in source_ids]
    with catalog_errors(f"look up {survey} sources"), catalog.session() as session:
        return {source for _, source in _stored(session, rows)}


def append_candidates(
    catalog: Catalog,
    rows_by_run: Mapping[int, Sequence[Mapping[str, Any]]],
    *,
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
) -> dict[tuple[str, int], tuple[int, int, int | None]]:
    """Add exposure runs' new candidates and associate them; one transaction.

    Each mapping gives `Candidate` columns as for `Catalog.finish_run`, with ``survey`` and
    ``source_id``. Returns (survey, source id) → (run id, candidate id, object id) of those
    stored now (a source already stored is skipped).
    """
    with catalog_errors("append ingested candidates"), catalog.session() as session:
        with session.begin():
            lock_association(session)
            stored = _stored(session, [c for rows in rows_by_run.values() for c in rows])
            inserted: list[int] = []
            runs = _runs(session, rows_by_run)
            for run_id, candidates in rows_by_run.items():
                run = runs.get(run_id)
                if run is None:
                    raise StorageError(f"no processing run with id {run_id}", run_id=run_id)
                new = [
                    c for c in candidates if (str(c["survey"]), int(c["source_id"])) not in stored
                ]
                if not new:
                    continue
                last = session.scalar(
                    select(func.max(Candidate.number)).where(Candidate.run_id == run_id)
                )
                rows = candidate_rows(run_id, run.science_id, new)
                for row in rows:
                    row["number"] += -1 if last is None else int(last)
                    row["number"] += 1
                ids = session.scalars(insert(Candidate).returning(Candidate.id), rows).all()
                inserted.extend(int(i) for i in ids)
                run.n_candidates += len(rows)
            if not inserted:
                return {}
            associate_candidates(session, inserted, radius_arcsec)
            out: dict[tuple[str, int], tuple[int, int, int | None]] = {}
            for k in range(0, len(inserted), 500):
                result = session.execute(
                    select(
                        Candidate.survey,
                        Candidate.source_id,
                        Candidate.run_id,
                        Candidate.id,
                        Candidate.object_id,
                    ).where(Candidate.id.in_(inserted[k : k + 500]))
                )
                for survey, source, run_id, cid, obj in result:
                    if survey is not None and source is not None:
                        out[(survey, int(source))] = (run_id, cid, obj)
            return out


def _runs(session: Session, run_ids: Iterable[int]) -> dict[int, ProcessingRun]:
    """These runs by id, read in one query per 500."""
    ids = sorted(set(run_ids))
    found: dict[int, ProcessingRun] = {}
    for k in range(0, len(ids), 500):
        query = select(ProcessingRun).where(ProcessingRun.id.in_(ids[k : k + 500]))
        found.update((run.id, run) for run in session.scalars(query))
    return found


def _stored(session: Session, candidates: Sequence[Mapping[str, Any]]) -> set[tuple[str, int]]:
    """The (survey, source id) pairs of these candidates that are stored already."""
    by_survey: dict[str, list[int]] = {}
    for c in candidates:
        by_survey.setdefault(str(c["survey"]), []).append(int(c["source_id"]))
    stored: set[tuple[str, int]] = set()
    for survey, ids in by_survey.items():
        for k in range(0, len(ids), 500):
            query = select(Candidate.source_id).where(
                Candidate.survey == survey, Candidate.source_id.in_(ids[k : k + 500])
            )
            stored.update((survey, int(i)) for i in session.scalars(query) if i is not None)
    return stored


def detected_pairs(catalog: Catalog, object_ids: Iterable[int]) -> set[tuple[int, int]]:
    """The (object, run) pairs of these objects' light-curve points that are detections."""
    ids = sorted(set(object_ids))
    found: set[tuple[int, int]] = set()
    with catalog_errors("read detected points"), catalog.session() as session:
        for k in range(0, len(ids), 500):
            query = select(LightCurvePoint.object_id, LightCurvePoint.run_id).where(
                LightCurvePoint.object_id.in_(ids[k : k + 500]), LightCurvePoint.detected
            )
            found.update((int(o), int(r)) for o, r in session.execute(query))
    return found
