"""Objects in the catalog: association of a run's candidates, under one lock.

`associate_run` runs inside the caller's write transaction. It first takes the association
lock (`lock_association`), so concurrent workers associate one at a time and each sees
every object the others created: two workers can never both create an object for one
source. The lock is PostgreSQL's transaction-scoped advisory lock on a constant key, or on
SQLite the database write lock, taken by a write before anything is read. A candidate has
one ``object_id`` column, so it is never in two objects; names come from the per-year
counter (`ObjectNameCounter`), read and bumped under the same lock, and are unique by
constraint as well.

The rule itself (nearest object within the radius, else a new one) is
:func:`astrid.objects.associate`; the neighbourhood it sees is every object in the HEALPix
ranges covering the run's candidates plus the radius.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import astropy.units as u
import numpy as np
from astropy_healpix import HEALPix
from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, text, update
from sqlalchemy.orm import Session

from astrid.catalog.models import (
    HEALPIX_NSIDE,
    Candidate,
    ObjectNameCounter,
    Observation,
    SkyObject,
    utcnow,
)
from astrid.catalog.sky_index import angular_separation_deg, cone_ranges
from astrid.objects import associate, object_name, weighted_position

__all__ = [
    "associate_candidates",
    "associate_run",
    "lock_association",
    "object_ids_of_run",
    "refresh_objects",
]

_HEALPIX = HEALPix(nside=HEALPIX_NSIDE, order="nested")
_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
# pg_advisory_xact_lock key of association ("ASTROBJ" in ASCII)
_PG_ASSOCIATION_LOCK = 0x41_53_54_52_4F_42_4A


def lock_association(session: Session) -> None:
    """Serialise association: held until the session's transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({_PG_ASSOCIATION_LOCK})"))
    elif dialect == "sqlite":
        # pysqlite begins lazily, before the first write; a write that changes nothing takes
        # the database write lock now, before this transaction reads any object.
        session.execute(
            update(ObjectNameCounter)
            .where(ObjectNameCounter.year == -1)
            .values(last_sequence=ObjectNameCounter.last_sequence)
        )


def object_ids_of_run(session: Session, run_id: int) -> set[int]:
    """The objects a run's candidates belong to now."""
    query = select(Candidate.object_id).where(
        Candidate.run_id == run_id, Candidate.object_id.is_not(None)
    )
    return {int(i) for i in session.scalars(query.distinct()) if i is not None}


def _year(mjd: float | None) -> int:
    if mjd is None or not math.isfinite(mjd):
        return utcnow().year
    return (_MJD_EPOCH + timedelta(days=mjd)).year


def _healpix(ra: float, dec: float) -> int:
    pixel = _HEALPIX.lonlat_to_healpix(ra * u.deg, dec * u.deg)
    return int(np.asarray(pixel))


def _nearby_objects(
    session: Session, ra: np.ndarray, dec: np.ndarray, radius_arcsec: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, ra, dec of every object that could lie within the radius of a candidate."""
    centre_ra, centre_dec = weighted_position(ra, dec, np.ones(len(ra)))
    spread = float(np.max(angular_separation_deg(ra, dec, centre_ra, centre_dec)))
    radius = min(spread + 2 * radius_arcsec / 3600.0, 180.0)
    ranges = cone_ranges(centre_ra, centre_dec, radius)
    query = select(SkyObject.id, SkyObject.ra, SkyObject.dec).where(
        or_(*(and_(SkyObject.healpix >= a, SkyObject.healpix < b) for a, b in ranges))
    )
    # Sorted here, not by ORDER BY: SQLite would walk the primary key (every row) instead
    # of searching the HEALPix index to avoid the sort.
    rows = sorted(session.execute(query).all(), key=lambda r: r[0])
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _new_objects(
    session: Session, places: Sequence[tuple[float, float, float | None]]
) -> list[int]:
    """Insert objects at (ra, dec, first MJD), named in order from their year's counter
    (bumped under the lock); their ids in the same order."""
    if not places:
        return []
    years = [_year(mjd) for _, _, mjd in places]
    sequence: dict[int, int] = {}
    for year in sorted(set(years)):
        counter = session.get(ObjectNameCounter, year)
        if counter is None:
            counter = ObjectNameCounter(year=year, last_sequence=0)
            session.add(counter)
        sequence[year] = counter.last_sequence
        counter.last_sequence += years.count(year)
    session.flush()
    rows = []
    now = utcnow()
    for (ra, dec, _), year in zip(places, years, strict=True):
        sequence[year] += 1
        rows.append(
            {
                "name": object_name(year, sequence[year]),
                "ra": ra,
                "dec": dec,
                "healpix": _healpix(ra, dec),
                "n_detections": 0,
                "year": year,
                "year_sequence": sequence[year],
                "created_at": now,
            }
        )
    ids = session.scalars(
        insert(SkyObject).returning(SkyObject.id, sort_by_parameter_order=True), rows
    ).all()
    return [int(i) for i in ids]


def refresh_objects(session: Session, object_ids: Iterable[int]) -> None:
    """Recompute position, count and MJD range; delete objects left with no detection."""
    ids = sorted(set(object_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        members: dict[int, list[tuple[float, float, float | None, float | None]]] = {}
        for object_id, c_ra, c_dec, c_flux, mjd in session.execute(
            select(
                Candidate.object_id, Candidate.ra, Candidate.dec, Candidate.flux, Observation.mjd
            )
            .join(Observation, Observation.id == Candidate.observation_id)
            .where(Candidate.object_id.in_(chunk))
        ):
            assert object_id is not None  # the query asks for objects by id
            members.setdefault(object_id, []).append((c_ra, c_dec, c_flux, mjd))
        empty = [i for i in chunk if i not in members]
        if empty:
            session.execute(delete(SkyObject).where(SkyObject.id.in_(empty)))
        updates = []
        for object_id, rows in members.items():
            fluxes = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
            ra, dec = weighted_position([r[0] for r in rows], [r[1] for r in rows], fluxes)
            mjds = [r[3] for r in rows if r[3] is not None]
            updates.append(
                {
                    "id": object_id,
                    "ra": ra,
                    "dec": dec,
                    "healpix": _healpix(ra, dec),
                    "n_detections": len(rows),
                    "first_mjd": min(mjds) if mjds else None,
                    "last_mjd": max(mjds) if mjds else None,
                }
            )
        if updates:
            session.execute(update(SkyObject), updates)


def associate_run(
    session: Session, run_id: int, radius_arcsec: float, *, detached: Iterable[int] = ()
) -> None:
    """Give each candidate of a run its object, creating objects where none is near.

    Candidates already in an object are associated afresh. ``detached`` names objects that
    lost candidates earlier in this transaction (a re-run's replaced candidates); they are
    recomputed, and deleted when empty, with the objects this run touches.
    """
    lock_association(session)
    affected = set(detached) | object_ids_of_run(session, run_id)
    _associate(session, Candidate.run_id == run_id, radius_arcsec, affected)


def associate_candidates(
    session: Session, candidate_ids: Sequence[int], radius_arcsec: float
) -> None:
    """Give these candidates (new ones, not yet in an object) their objects, as
    `associate_run` does for a run's."""
    lock_association(session)
    for start in range(0, len(candidate_ids), 500):
        chunk = list(candidate_ids[start : start + 500])
        _associate(session, Candidate.id.in_(chunk), radius_arcsec, set())


def _associate(
    session: Session, which: ColumnElement[bool], radius_arcsec: float, affected: set[int]
) -> None:
    rows = session.execute(
        select(Candidate.id, Candidate.ra, Candidate.dec, Candidate.flux, Observation.mjd)
        .join(Observation, Observation.id == Candidate.observation_id)
        .where(which)
        .order_by(Candidate.run_id, Candidate.number)
    ).all()
    if rows:
        ra = np.array([r[1] for r in rows], dtype=np.float64)
        dec = np.array([r[2] for r in rows], dtype=np.float64)
        flux = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
        ids, object_ra, object_dec = _nearby_objects(session, ra, dec, radius_arcsec)
        result = associate(ra, dec, object_ra, object_dec, radius_arcsec)
        places = []
        for group in range(result.n_new):
            members = np.flatnonzero(result.new_group == group)
            g_ra, g_dec = weighted_position(ra[members], dec[members], flux[members])
            mjds = [float(m) for i in members if (m := rows[int(i)][4]) is not None]
            places.append((g_ra, g_dec, min(mjds) if mjds else None))
        new_ids = _new_objects(session, places)
        assigned = [
            int(ids[e]) if e >= 0 else new_ids[g]
            for e, g in zip(result.existing, result.new_group, strict=True)
        ]
        session.execute(
            update(Candidate),
            [{"id": r[0], "object_id": o} for r, o in zip(rows, assigned, strict=True)],
        )
        affected |= set(assigned)
    refresh_objects(session, affected)
