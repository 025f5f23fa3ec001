"""Reads of observations: list, one by id or by file hash, the latest reference in a band.

Records leave out the server-side path of the file; ``store_key`` names it in the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import Observation
from astrid.catalog.query_params import check_limit
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = [
    "ObservationRecord",
    "latest_reference",
    "observation",
    "observation_by_hash",
    "observation_names",
    "observations",
    "usable_references",
]


@dataclass(frozen=True)
class ObservationRecord:
    """An observation as the service shows it (the server-side path is left out)."""

    id: int
    name: str
    role: str
    status: str
    error: str | None
    mjd: float | None
    filter: str | None
    exptime: float
    gain: float
    shape: tuple[int, int]
    content_sha256: str
    store_key: str | None
    wcs_header: str | None
    created_at: datetime
    zero_point: float | None = None
    zero_point_error: float | None = None
    zero_point_stars: int | None = None
    zero_point_source: str | None = None
    limiting_mag: float | None = None
    mjd_end: float | None = None  # a stack's latest input
    #: A reference stack's make-up (`astrid.difference.stack_files.stack_summary`)
    stack: dict[str, Any] | None = None


def _observation_record(obs: Observation) -> ObservationRecord:
    stack = loads_json(obs.stack_json) or None
    return record_from_row(ObservationRecord, obs, shape=(obs.shape_y, obs.shape_x), stack=stack)


def observations(
    catalog: Catalog,
    *,
    role: str | None = None,
    status: str | None = None,
    filter: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[ObservationRecord]:
    """Observations by id, optionally filtered; ``after_id`` pages through them."""
    check_limit(limit)
    query = select(Observation).order_by(Observation.id).limit(limit)
    if role is not None:
        query = query.where(Observation.role == role)
    if status is not None:
        query = query.where(Observation.status == status)
    if filter is not None:
        query = query.where(Observation.filter == filter)
    if after_id is not None:
        query = query.where(Observation.id > after_id)
    with catalog_errors("read observations"), catalog.session() as session:
        return [_observation_record(o) for o in session.scalars(query)]


def observation(catalog: Catalog, observation_id: int) -> ObservationRecord | None:
    """One observation, or None."""
    with catalog_errors(f"read observation {observation_id}"), catalog.session() as session:
        obs = session.get(Observation, observation_id)
        return None if obs is None else _observation_record(obs)


def observation_names(catalog: Catalog, observation_ids: Iterable[int]) -> dict[int, str]:
    """The file names of observations by id (unknown ids are left out)."""
    wanted = sorted(set(observation_ids))
    if not wanted:
        return {}
    query = select(Observation.id, Observation.name).where(Observation.id.in_(wanted))
    with catalog_errors("read observation names"), catalog.session() as session:
        return {int(i): str(name) for i, name in session.execute(query)}


def observation_by_hash(catalog: Catalog, content_sha256: str) -> ObservationRecord | None:
    """The observation of a file with this SHA-256, or None."""
    query = select(Observation).where(Observation.content_sha256 == content_sha256)
    with catalog_errors("find an observation by hash"), catalog.session() as session:
        obs = session.scalar(query)
        return None if obs is None else _observation_record(obs)


def usable_references(
    catalog: Catalog, *, filter: str | None, limit: int = 1000
) -> list[ObservationRecord]:
    """Reference observations in band ``filter`` that have a WCS and did not fail, newest
    registered first (at most ``limit``)."""
    check_limit(limit)
    query = (
        select(Observation)
        .where(Observation.role == "reference", Observation.status != "failed")
        .where(Observation.wcs_header.is_not(None))
        .where(Observation.filter.is_(None) if filter is None else Observation.filter == filter)
        .order_by(Observation.id.desc())
        .limit(limit)
    )
    with catalog_errors("find the references"), catalog.session() as session:
        return [_observation_record(o) for o in session.scalars(query)]


def latest_reference(catalog: Catalog, *, filter: str | None) -> ObservationRecord | None:
    """The most recently registered usable reference observation in band ``filter``."""
    query = (
        select(Observation)
        .where(Observation.role == "reference", Observation.status != "failed")
        .where(Observation.filter.is_(None) if filter is None else Observation.filter == filter)
        .order_by(Observation.id.desc())
        .limit(1)
    )
    with catalog_errors("find the latest reference"), catalog.session() as session:
        obs = session.scalar(query)
        return None if obs is None else _observation_record(obs)
