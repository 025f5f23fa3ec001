"""Read queries of the service: observations, runs, jobs, candidates, dashboards.

Candidates are listed with filters, a sort key and keyset (cursor) pagination: a page
ends with an opaque cursor encoding the last row's sort value and id, and the next page
starts strictly after it, so pages never skip or repeat rows while new ones are added.
Sort keys that may be NULL (``rb``, ``mag``...) sort with NULLs last in either direction.
Cone searches go through the HEALPix index (`astrid.catalog.sky_index`), never a scan.

All functions take the `Catalog` first and keyword-only arguments after; positions are
degrees ICRS, times MJD (UTC), datetimes timezone-aware UTC.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute

from astrid.catalog.models import (
    Candidate,
    Job,
    Label,
    Observation,
    ProcessingRun,
)
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.catalog.sky_index import angular_separation_deg, cone_ranges
from astrid.curation.labels import LABELS
from astrid.errors import StorageError

__all__ = [
    "SORT_KEYS",
    "CandidateFilters",
    "CandidatePage",
    "CandidateRecord",
    "ConeMatch",
    "InvalidQueryError",
    "JobRecord",
    "ObservationRecord",
    "RunRecord",
    "candidate",
    "candidates_per_observation",
    "cone_search",
    "count_candidates",
    "histogram",
    "job",
    "jobs",
    "list_candidates",
    "neighbours",
    "observation",
    "observations",
    "run",
    "runs",
]


class InvalidQueryError(StorageError):
    """A query parameter (filter, sort key, cursor) is invalid; ``field`` names it."""


# -- records ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class RunRecord:
    """A processing run with its statistics and per-stage timings (seconds)."""

    id: int
    status: str
    science_id: int
    reference_id: int | None
    n_candidates: int
    failed_stage: str | None
    error: str | None
    code_version: str
    config: dict[str, Any]
    stats: dict[str, Any]
    timings: dict[str, float]
    products: dict[str, str]
    started_at: datetime
    finished_at: datetime | None

    @property
    def seconds(self) -> float | None:
        """Wall-clock seconds from start to finish, None while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class JobRecord:
    """A queued unit of work and what became of it."""

    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    observation_id: int | None
    run_id: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


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
    cutout_science_key: str | None
    cutout_reference_key: str | None
    cutout_difference_key: str | None
    mjd: float | None
    filter: str | None
    observation_name: str
    features: dict[str, Any] = field(default_factory=dict)

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


@dataclass(frozen=True)
class CandidateFilters:
    """Filters of a candidate listing; None means "any". Ranges are inclusive.

    ``label`` matches candidates that any curator gave that label; ``reviewed`` those
    with (True) or without (False) any label.
    """

    run_id: int | None = None
    observation_id: int | None = None
    mjd_min: float | None = None
    mjd_max: float | None = None
    rb_min: float | None = None
    rb_max: float | None = None
    ood_min: float | None = None
    ood_max: float | None = None
    sign: int | None = None
    label: str | None = None
    reviewed: bool | None = None

    def __post_init__(self) -> None:
        if self.sign not in (None, -1, 1):
            raise InvalidQueryError(f"sign must be -1 or 1, got {self.sign!r}", field="sign")
        if self.label is not None and self.label not in LABELS:
            raise InvalidQueryError(
                f"label must be one of {', '.join(LABELS)}, got {self.label!r}", field="label"
            )
        for low, high in (("mjd_min", "mjd_max"), ("rb_min", "rb_max"), ("ood_min", "ood_max")):
            lo, hi = getattr(self, low), getattr(self, high)
            for name, value in ((low, lo), (high, hi)):
                if value is not None and not math.isfinite(value):
                    raise InvalidQueryError(f"{name} must be finite, got {value!r}", field=name)
            if lo is not None and hi is not None and lo > hi:
                raise InvalidQueryError(
                    f"{low} ({lo}) must not exceed {high} ({hi})", field=low, value=lo
                )


SortKey = Literal["id", "scorr", "abs_scorr", "snr", "rb", "ood", "mag", "mjd"]
SORT_KEYS: tuple[str, ...] = ("id", "scorr", "abs_scorr", "snr", "rb", "ood", "mag", "mjd")


def _sort_column(key: str) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    columns: dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
        "id": Candidate.id,
        "scorr": Candidate.scorr,
        "abs_scorr": func.abs(Candidate.scorr),
        "snr": Candidate.snr,
        "rb": Candidate.rb,
        "ood": Candidate.ood,
        "mag": Candidate.mag,
        "mjd": Observation.mjd,
    }
    return columns[key]


# -- helpers ------------------------------------------------------------------------------


def _loads(text: str | None) -> dict[str, Any]:
    return dict(json.loads(text)) if text else {}


_CANDIDATE_FIELDS = tuple(c.key for c in Candidate.__table__.columns if c.key != "features_json")


def _candidate_select() -> Any:
    """Candidates joined with their observation's time, band and name."""
    return select(Candidate, Observation.mjd, Observation.filter, Observation.name).join(
        Observation, Observation.id == Candidate.observation_id
    )


def _candidate_record(row: Any) -> CandidateRecord:
    cand, mjd, band, name = row
    values = {key: getattr(cand, key) for key in _CANDIDATE_FIELDS}
    return CandidateRecord(
        **values,
        mjd=mjd,
        filter=band,
        observation_name=name,
        features=_loads(cand.features_json),
    )


def _observation_record(obs: Observation) -> ObservationRecord:
    return ObservationRecord(
        id=obs.id,
        name=obs.name,
        role=obs.role,
        status=obs.status,
        error=obs.error,
        mjd=obs.mjd,
        filter=obs.filter,
        exptime=obs.exptime,
        gain=obs.gain,
        shape=(obs.shape_y, obs.shape_x),
        content_sha256=obs.content_sha256,
        store_key=obs.store_key,
        wcs_header=obs.wcs_header,
        created_at=obs.created_at,
    )


def _run_record(run: ProcessingRun) -> RunRecord:
    return RunRecord(
        id=run.id,
        status=run.status,
        science_id=run.science_id,
        reference_id=run.reference_id,
        n_candidates=run.n_candidates,
        failed_stage=run.failed_stage,
        error=run.error,
        code_version=run.code_version,
        config=_loads(run.config_json),
        stats=_loads(run.stats_json),
        timings=_loads(run.timings_json),
        products=_loads(run.products_json),
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def job_record(job_row: Job) -> JobRecord:
    """A `Job` row as a record (for `astrid.catalog.jobs`)."""
    return JobRecord(
        id=job_row.id,
        kind=job_row.kind,
        status=job_row.status,
        payload=_loads(job_row.payload_json),
        observation_id=job_row.observation_id,
        run_id=job_row.run_id,
        error=job_row.error,
        created_at=job_row.created_at,
        started_at=job_row.started_at,
        finished_at=job_row.finished_at,
    )


def _check_limit(limit: int, maximum: int = 10_000) -> None:
    if not 1 <= limit <= maximum:
        raise InvalidQueryError(
            f"limit must be within [1, {maximum}], got {limit!r}", field="limit", value=limit
        )


# -- observations, runs, jobs ------------------------------------------------------------


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
    _check_limit(limit)
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


def observation_by_hash(catalog: Catalog, content_sha256: str) -> ObservationRecord | None:
    """The observation of a file with this SHA-256, or None."""
    query = select(Observation).where(Observation.content_sha256 == content_sha256)
    with catalog_errors("find an observation by hash"), catalog.session() as session:
        obs = session.scalar(query)
        return None if obs is None else _observation_record(obs)


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


def runs(
    catalog: Catalog,
    *,
    status: str | None = None,
    science_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Processing runs, newest first; ``before_id`` pages back in time."""
    _check_limit(limit)
    query = select(ProcessingRun).order_by(ProcessingRun.id.desc()).limit(limit)
    if status is not None:
        query = query.where(ProcessingRun.status == status)
    if science_id is not None:
        query = query.where(ProcessingRun.science_id == science_id)
    if before_id is not None:
        query = query.where(ProcessingRun.id < before_id)
    with catalog_errors("read runs"), catalog.session() as session:
        return [_run_record(r) for r in session.scalars(query)]


def run(catalog: Catalog, run_id: int) -> RunRecord | None:
    """One processing run, or None."""
    with catalog_errors(f"read run {run_id}"), catalog.session() as session:
        found = session.get(ProcessingRun, run_id)
        return None if found is None else _run_record(found)


def jobs(
    catalog: Catalog, *, status: str | None = None, before_id: int | None = None, limit: int = 100
) -> list[JobRecord]:
    """Jobs, newest first."""
    _check_limit(limit)
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if before_id is not None:
        query = query.where(Job.id < before_id)
    with catalog_errors("read jobs"), catalog.session() as session:
        return [job_record(j) for j in session.scalars(query)]


def job(catalog: Catalog, job_id: int) -> JobRecord | None:
    """One job, or None."""
    with catalog_errors(f"read job {job_id}"), catalog.session() as session:
        found = session.get(Job, job_id)
        return None if found is None else job_record(found)


# -- candidates ---------------------------------------------------------------------------


def _filter_clauses(filters: CandidateFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    equal = (
        (filters.run_id, Candidate.run_id),
        (filters.observation_id, Candidate.observation_id),
        (filters.sign, Candidate.sign),
    )
    for value, column in equal:
        if value is not None:
            clauses.append(column == value)
    ranges: tuple[tuple[float | None, float | None, Any], ...] = (
        (filters.mjd_min, filters.mjd_max, Observation.mjd),
        (filters.rb_min, filters.rb_max, Candidate.rb),
        (filters.ood_min, filters.ood_max, Candidate.ood),
    )
    for low, high, column in ranges:
        if low is not None:
            clauses.append(column >= low)
        if high is not None:
            clauses.append(column <= high)
    labelled = select(Label.id).where(Label.candidate_id == Candidate.id)
    if filters.label is not None:
        clauses.append(exists(labelled.where(Label.label == filters.label)))
    if filters.reviewed is True:
        clauses.append(exists(labelled))
    elif filters.reviewed is False:
        clauses.append(~exists(labelled))
    return clauses


def _encode_cursor(sort: str, descending: bool, value: Any, last_id: int) -> str:
    text = json.dumps({"s": sort, "d": descending, "v": value, "i": last_id})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[float | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, last_id = data["v"], data["i"]
        same = data["s"] == sort and data["d"] is descending
    except (ValueError, TypeError, KeyError, binascii.Error) as e:
        raise InvalidQueryError(f"cursor {cursor[:40]!r} is not valid", field="cursor") from e
    valid_value = value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )
    if not (isinstance(last_id, int) and not isinstance(last_id, bool) and valid_value):
        raise InvalidQueryError(f"cursor {cursor[:40]!r} is not valid", field="cursor")
    if not same:
        raise InvalidQueryError(
            "cursor belongs to another sort order; start again without it", field="cursor"
        )
    return value, last_id


def _after(
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    value: float | None,
    last_id: int,
    descending: bool,
) -> ColumnElement[bool]:
    """Rows after (value, id) in the order (value IS NULL, value, id), NULLs last."""
    if value is None:
        beyond_id = Candidate.id < last_id if descending else Candidate.id > last_id
        return and_(column.is_(None), beyond_id)
    beyond = column < value if descending else column > value
    tie = Candidate.id < last_id if descending else Candidate.id > last_id
    return or_(and_(column.is_not(None), or_(beyond, and_(column == value, tie))), column.is_(None))


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
    _check_limit(limit, 1000)
    column = _sort_column(sort)
    query = _candidate_select().where(*_filter_clauses(filters))
    if cursor is not None:
        value, last_id = _decode_cursor(cursor, sort, descending)
        query = query.where(_after(column, value, last_id, descending))
    nulls_last = case((column.is_(None), 1), else_=0)
    if descending:
        query = query.order_by(nulls_last, column.desc(), Candidate.id.desc())
    else:
        query = query.order_by(nulls_last, column.asc(), Candidate.id.asc())
    query = query.add_columns(column.label("_sort_value")).limit(limit + 1)
    with catalog_errors("list candidates"), catalog.session() as session:
        rows = session.execute(query).all()
    items = [_candidate_record(row[:4]) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        sort_value = last[4]
        next_cursor = _encode_cursor(
            sort, descending, None if sort_value is None else float(sort_value), last[0].id
        )
    return CandidatePage(items=items, next_cursor=next_cursor)


def count_candidates(catalog: Catalog, *, filters: CandidateFilters = CandidateFilters()) -> int:
    """How many candidates match ``filters``."""
    query = (
        select(func.count(Candidate.id))
        .join(Observation, Observation.id == Candidate.observation_id)
        .where(*_filter_clauses(filters))
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
    query = _candidate_select().where(*_filter_clauses(filters)).order_by(Candidate.id)
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
    _check_limit(limit)
    try:
        ranges = cone_ranges(ra, dec, radius_deg)
    except ValueError as e:
        raise InvalidQueryError(str(e), field="radius" if "radius" in str(e) else "dec") from e
    in_index = or_(*(Candidate.healpix.between(a, b - 1) for a, b in ranges)) if ranges else false()
    query = _candidate_select().where(in_index)
    if exclude_id is not None:
        query = query.where(Candidate.id != exclude_id)
    with catalog_errors("cone search"), catalog.session() as session:
        records = [_candidate_record(row) for row in session.execute(query)]
    if not records:
        return []
    sep = angular_separation_deg(
        np.array([r.ra for r in records]), np.array([r.dec for r in records]), ra, dec
    )
    order = np.argsort(sep, kind="stable")
    return [
        ConeMatch(candidate=records[i], separation_arcsec=float(sep[i]) * 3600.0)
        for i in order
        if sep[i] <= radius_deg
    ][:limit]


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


# -- dashboards ---------------------------------------------------------------------------


def candidates_per_observation(catalog: Catalog) -> list[tuple[float | None, int]]:
    """``(mjd, number of candidates)`` per science observation with candidates."""
    query = (
        select(Observation.mjd, func.count(Candidate.id))
        .join(Candidate, Candidate.observation_id == Observation.id)
        .group_by(Observation.id, Observation.mjd)
    )
    with catalog_errors("count candidates per observation"), catalog.session() as session:
        return [(mjd, int(n)) for mjd, n in session.execute(query)]


HistogramColumn = Literal["rb", "ood", "abs_scorr"]


def histogram(catalog: Catalog, *, column: HistogramColumn, edges: Sequence[float]) -> list[int]:
    """Counts of candidates per bin ``[edges[i], edges[i+1])`` (last bin closed), one scan.

    NULL values (unscored candidates) are not counted.
    """
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvalidQueryError("histogram edges must increase", field="edges")
    expr: Any = {
        "rb": Candidate.rb,
        "ood": Candidate.ood,
        "abs_scorr": func.abs(Candidate.scorr),
    }[column]
    sums = []
    last = len(edges) - 2
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        upper = expr <= high if i == last else expr < high
        sums.append(func.coalesce(func.sum(case((and_(expr >= low, upper), 1), else_=0)), 0))
    with catalog_errors(f"histogram {column}"), catalog.session() as session:
        row = session.execute(select(*sums).where(true())).one()
    return [int(n) for n in row]
