"""Reads of candidates: filtered and sorted pages, counts, one by id, cone searches.

Listings take `CandidateFilters` and a sort key with keyset pagination
(`astrid.catalog.query_params`). Cone searches go through the HEALPix index
(`astrid.catalog.sky_index`), never a scan.

All functions take the `Catalog` first and keyword-only arguments after; positions are
degrees ICRS, times MJD (UTC), datetimes timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import Candidate, Observation, SkyObject
from astrid.catalog.query_params import (
    SORT_KEYS,
    CandidateFilters,
    InvalidQueryError,
    check_limit,
    cone_clause,
    decode_cursor,
    encode_cursor,
    filter_clauses,
    nearest_within,
    rows_after,
    sort_column,
)
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = [
    "CUTOUT_KINDS",
    "CandidatePage",
    "CandidateRecord",
    "ConeMatch",
    "candidate",
    "candidates_by_id",
    "candidates_of_object",
    "cone_search",
    "count_candidates",
    "iter_candidates",
    "list_candidates",
    "neighbours",
]


@dataclass(frozen=True)
class CandidateRecord:
    """A candidate with its measurements, scores and the time and band of its image."""

    id: int
    run_id: int
    observation_id: int
    number: int
    x: float
    y: float
    ra: float
    dec: float
    healpix: int
    sign: int
    scorr: float
    snr: float | None
    flux: float | None
    flux_err: float | None
    mag: float | None
    mag_err: float | None
    fwhm: float | None
    elongation: float | None
    n_bad_pixels: int
    dist_nearest_ref_source_arcsec: float | None
    rb: float | None
    ood: float | None
    ood_msp: float | None
    ood_energy: float | None
    ood_mahalanobis: float | None
    model_version_id: int | None
    object_id: int | None
    cutout_science_key: str | None
    cutout_reference_key: str | None
    cutout_difference_key: str | None
    mjd: float | None
    filter: str | None
    observation_name: str
    object_name: str | None = None
    features: dict[str, Any] = field(default_factory=dict)
    # provenance of a candidate ingested from a survey's alert packet (None for AstrID's own)
    survey: str | None = None
    source_id: int | None = None
    packet_id: str | None = None
    schema_version: str | None = None
    survey_score: float | None = None

    def cutout_key(self, kind: str) -> str | None:
        """The store key of the ``science``, ``reference`` or ``difference`` cutout."""
        if kind not in CUTOUT_KINDS:
            raise ValueError(f"cutout kind must be one of {CUTOUT_KINDS}, got {kind!r}")
        key: str | None = getattr(self, f"cutout_{kind}_key")
        return key


CUTOUT_KINDS = ("science", "reference", "difference")


@dataclass(frozen=True)
class CandidatePage:
    """One page of candidates and the cursor of the next (None on the last page)."""

    items: list[CandidateRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class ConeMatch:
    """A candidate found by a cone search and its distance from the centre."""

    candidate: CandidateRecord
    separation_arcsec: float


_CANDIDATE_FIELDS = tuple(c.key for c in Candidate.__table__.columns if c.key != "features_json")


def _candidate_select() -> Any:
    """Candidates joined with their observation's time, band and name, and their object's
    name."""
    return (
        select(Candidate, Observation.mjd, Observation.filter, Observation.name, SkyObject.name)
        .join(Observation, Observation.id == Candidate.observation_id)
        .outerjoin(SkyObject, SkyObject.id == Candidate.object_id)
    )


def _candidate_record(row: Any) -> CandidateRecord:
    cand, mjd, band, name, object_name = row
    values = {key: getattr(cand, key) for key in _CANDIDATE_FIELDS}
    return CandidateRecord(
        **values,
        mjd=mjd,
        filter=band,
        observation_name=name,
        object_name=object_name,
        features=loads_json(cand.features_json),
    )


def list_candidates(
    catalog: Catalog,
    *,
    filters: CandidateFilters = CandidateFilters(),
    sort: str = "id",
    descending: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> CandidatePage:
    """One page of candidates matching ``filters`` in the order of ``sort``.

    Parameters
    ----------
    catalog : Catalog
    filters : CandidateFilters
    sort : str
        One of `SORT_KEYS`; ties are broken by id in the same direction.
    descending : bool
        Largest first (NULLs still last).
    limit : int
        Page size, 1 to 1000.
    cursor : str, optional
        ``next_cursor`` of the previous page (with the same sort and filters).

    Returns
    -------
    CandidatePage

    Raises
    ------
    InvalidQueryError
        For an unknown sort key, a limit out of range or a cursor that does not belong to
        this sort order.
    """
    if sort not in SORT_KEYS:
        raise InvalidQueryError(
            f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}", field="sort"
        )
    check_limit(limit, 1000)
    column = sort_column(sort)
    query = _candidate_select().where(*filter_clauses(filters))
    if cursor is not None:
        value, last_id = decode_cursor(cursor, sort, descending)
        query = query.where(rows_after(column, value, last_id, descending))
    nulls_last = case((column.is_(None), 1), else_=0)
    if descending:
        query = query.order_by(nulls_last, column.desc(), Candidate.id.desc())
    else:
        query = query.order_by(nulls_last, column.asc(), Candidate.id.asc())
    query = query.add_columns(column.label("_sort_value")).limit(limit + 1)
    with catalog_errors("list candidates"), catalog.session() as session:
        rows = session.execute(query).all()
    items = [_candidate_record(row[:5]) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        sort_value = last[5]
        next_cursor = encode_cursor(
            sort, descending, None if sort_value is None else float(sort_value), last[0].id
        )
    return CandidatePage(items=items, next_cursor=next_cursor)


def count_candidates(catalog: Catalog, *, filters: CandidateFilters = CandidateFilters()) -> int:
    """How many candidates match ``filters``."""
    query = (
        select(func.count(Candidate.id))
        .join(Observation, Observation.id == Candidate.observation_id)
        .where(*filter_clauses(filters))
    )
    with catalog_errors("count candidates"), catalog.session() as session:
        return int(session.scalar(query) or 0)


def iter_candidates(
    catalog: Catalog, *, filters: CandidateFilters = CandidateFilters(), max_rows: int
) -> list[CandidateRecord]:
    """Every candidate matching ``filters`` by id, refusing more than ``max_rows``.

    Raises
    ------
    InvalidQueryError
        If more than ``max_rows`` match (``field="filters"``, ``count`` the number).
    """
    count = count_candidates(catalog, filters=filters)
    if count > max_rows:
        raise InvalidQueryError(
            f"{count} candidates match, more than the {max_rows} one request may take; "
            "narrow the filters",
            field="filters",
            count=count,
        )
    query = _candidate_select().where(*filter_clauses(filters)).order_by(Candidate.id)
    with catalog_errors("read candidates"), catalog.session() as session:
        return [_candidate_record(row) for row in session.execute(query)]


def candidate(catalog: Catalog, candidate_id: int) -> CandidateRecord | None:
    """One candidate, or None."""
    query = _candidate_select().where(Candidate.id == candidate_id)
    with catalog_errors(f"read candidate {candidate_id}"), catalog.session() as session:
        row = session.execute(query).first()
    return None if row is None else _candidate_record(row)


def candidates_by_id(catalog: Catalog, ids: Sequence[int]) -> dict[int, CandidateRecord]:
    """The candidates with these ids (missing ones left out)."""
    if not ids:
        return {}
    query = _candidate_select().where(Candidate.id.in_(list(ids)))
    with catalog_errors("read candidates"), catalog.session() as session:
        records = [_candidate_record(row) for row in session.execute(query)]
    return {r.id: r for r in records}


def candidates_of_object(
    catalog: Catalog, object_id: int, *, limit: int = 200
) -> list[CandidateRecord]:
    """The detections (candidates) of an object, newest (latest MJD) first.

    Raises
    ------
    InvalidQueryError
        If `limit` is outside [1, 10000].
    """
    check_limit(limit)
    query = (
        _candidate_select()
        .where(Candidate.object_id == object_id)
        .order_by(Observation.mjd.desc(), Candidate.id.desc())
        .limit(limit)
    )
    with catalog_errors(f"read candidates of object {object_id}"), catalog.session() as session:
        return [_candidate_record(row) for row in session.execute(query)]


def cone_search(
    catalog: Catalog,
    *,
    ra: float,
    dec: float,
    radius_deg: float,
    limit: int = 1000,
    exclude_id: int | None = None,
) -> list[ConeMatch]:
    """Candidates within ``radius_deg`` of (``ra``, ``dec``), nearest first.

    The HEALPix index narrows the search to a few pixel ranges; the exact great-circle
    distance then keeps those inside the cone.

    Raises
    ------
    InvalidQueryError
        For a centre or radius out of range, or a limit outside [1, 10000].
    """
    check_limit(limit)
    query = _candidate_select().where(cone_clause(Candidate.healpix, ra, dec, radius_deg))
    if exclude_id is not None:
        query = query.where(Candidate.id != exclude_id)
    with catalog_errors("cone search"), catalog.session() as session:
        records = [_candidate_record(row) for row in session.execute(query)]
    found = nearest_within(
        [r.ra for r in records], [r.dec for r in records], ra, dec, radius_deg, limit
    )
    return [ConeMatch(candidate=records[i], separation_arcsec=sep) for i, sep in found]


def neighbours(
    catalog: Catalog, record: CandidateRecord, *, radius_arcsec: float, limit: int = 100
) -> list[ConeMatch]:
    """Other candidates within ``radius_arcsec`` of ``record`` (other runs, same place)."""
    return cone_search(
        catalog,
        ra=record.ra,
        dec=record.dec,
        radius_deg=radius_arcsec / 3600.0,
        limit=limit,
        exclude_id=record.id,
    )
