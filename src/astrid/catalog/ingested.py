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
    """``(survey, exposure)`` → (observation id, run id), created where missing."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for exposure in {(e.survey, e.exposure): e for e in exposures}.values():
        found = None
        for _ in range(3):  # a concurrent ingester's insert won: read it back
            found = _exposure_run(catalog, exposure, code_version)
            if found is not None:
                break
        if found is None:
            raise StorageError(f"could not register {exposure.run_key}", key=exposure.run_key)
        out[(exposure.survey, exposure.exposure)] = found
    return out


def _exposure_run(
    catalog: Catalog, exposure: Exposure, code_version: str
) -> tuple[int, int] | None:
    """Get or create; None when a concurrent insert of the same row won."""
    sha = _content_hash(exposure)
    with catalog_errors(f"register exposure {exposure.run_key}"), catalog.session() as session:
        try:
            return _get_or_create(session, exposure, sha, code_version)
        except IntegrityError:
            return None


def _get_or_create(
    session: Session, exposure: Exposure, sha: str, code_version: str
) -> tuple[int, int]:
    with session.begin():
        obs = session.scalar(select(Observation).where(Observation.content_sha256 == sha))
        if obs is None:
            obs = Observation(
                content_sha256=sha,
                name=f"{exposure.survey} {exposure.exposure}",
                path=exposure.path,
                role="science",
                mjd=exposure.mjd,
                filter=exposure.band,
                status="processed",
                # no image here: its exposure time and gain are unknown (0 and 1), its
                # shape that of the stamps
                exptime=0.0,
                gain=1.0,
                shape_y=63,
                shape_x=63,
            )
            session.add(obs)
            session.flush()
        run = session.scalar(select(ProcessingRun).where(ProcessingRun.key == exposure.run_key))
        if run is None:
            now = utcnow()
            run = ProcessingRun(
                key=exposure.run_key,
                science_id=obs.id,
                reference_id=None,
                status="done",
                config_json=dumps_json(
                    {"ingest": exposure.survey, "exposure": exposure.exposure},
                    f"config of {exposure.run_key}",
                ),
                code_version=code_version,
                started_at=now,
                finished_at=now,
                objects_status="pending",
            )
            session.add(run)
            session.flush()
        return obs.id, run.id


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
            for run_id, candidates in rows_by_run.items():
                run = session.get(ProcessingRun, run_id)
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
