"""Reads and summary writes of objects: records, filtered pages, cone search, curators' classes.

`ObjectRecord` is an object with its light-curve features and context (decoded from JSON);
`list_objects` pages through objects newest first (keyset on id) with `ObjectFilters`;
`object_cone_search` goes through the HEALPix index, never a scan. `update_summaries`
writes what the objects stage derives (features, context); `add_object_label` records a
curator's class of an object (`astrid.curation.labels.OBJECT_CLASSES`).

All functions take the `Catalog` first; positions are degrees ICRS, times MJD.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update

from astrid.catalog.access import audit_entry
from astrid.catalog.json_columns import dumps_json, loads_json
from astrid.catalog.models import ObjectLabel, SkyObject, utcnow
from astrid.catalog.query_params import (
    InvalidQueryError,
    check_limit,
    cone_clause,
    nearest_within,
    newest_first,
)
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.curation.labels import OBJECT_CLASSES
from astrid.errors import StorageError

__all__ = [
    "SUMMARY_COLUMNS",
    "ObjectCone",
    "ObjectFilters",
    "ObjectLabelRecord",
    "ObjectRecord",
    "add_object_label",
    "context_classes",
    "count_objects",
    "iter_objects",
    "list_objects",
    "object_cone_search",
    "object_labels_of",
    "objects_by_id",
    "sky_object",
    "update_summaries",
]

#: What the objects stage may write on an object (`update_summaries`).
SUMMARY_COLUMNS = (
    "n_nondetections",
    "peak_mjd",
    "peak_mag",
    "peak_flux",
    "peak_band",
    "rise_rate",
    "decline_rate",
    "features",
    "context_class",
    "context_reason",
    "context",
    "xmatch_catalog",
    "xmatch_name",
    "xmatch_type",
    "xmatch_sep_arcsec",
    "host_name",
    "host_sep_arcsec",
    "host_dlr",
    "host_distance_mpc",
    "moving",
)


@dataclass(frozen=True)
class ObjectRecord:
    """An object: position, detections, light-curve features and context."""

    id: int
    name: str
    ra: float
    dec: float
    n_detections: int
    n_nondetections: int
    first_mjd: float | None
    last_mjd: float | None
    peak_mjd: float | None
    peak_mag: float | None
    peak_flux: float | None
    peak_band: str | None
    rise_rate: float | None
    decline_rate: float | None
    context_class: str | None
    context_reason: str | None
    xmatch_catalog: str | None
    xmatch_name: str | None
    xmatch_type: str | None
    xmatch_sep_arcsec: float | None
    host_name: str | None
    host_sep_arcsec: float | None
    host_dlr: float | None
    host_distance_mpc: float | None
    moving: bool
    features: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectCone:
    """An object found by a cone search and its distance from the centre."""

    object: ObjectRecord
    separation_arcsec: float


@dataclass(frozen=True)
class ObjectLabelRecord:
    """One curator's class of one object."""

    id: int
    object_id: int
    curator: str
    label: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class ObjectFilters:
    """What `list_objects` keeps; None means no condition.

    Raises
    ------
    InvalidQueryError
        For an unknown context class or a non-finite bound.
    """

    context_class: str | None = None
    min_detections: int | None = None
    last_mjd_min: float | None = None
    last_mjd_max: float | None = None
    peak_mag_min: float | None = None
    peak_mag_max: float | None = None
    moving: bool | None = None

    def __post_init__(self) -> None:
        for name in ("last_mjd_min", "last_mjd_max", "peak_mag_min", "peak_mag_max"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidQueryError(f"{name} must be finite", field=name, value=value)
        if self.min_detections is not None and self.min_detections < 0:
            raise InvalidQueryError(
                "min_detections must be ≥ 0", field="min_detections", value=self.min_detections
            )

    def clauses(self) -> list[ColumnElement[bool]]:
        """The SQL conditions."""
        out: list[ColumnElement[bool]] = []
        if self.context_class is not None:
            out.append(SkyObject.context_class == self.context_class)
        if self.min_detections is not None:
            out.append(SkyObject.n_detections >= self.min_detections)
        if self.moving is not None:
            out.append(SkyObject.moving.is_(self.moving))
        bounds = (
            (self.last_mjd_min, self.last_mjd_max, SkyObject.last_mjd),
            (self.peak_mag_min, self.peak_mag_max, SkyObject.peak_mag),
        )
        for low, high, column in bounds:
            if low is not None:
                out.append(column >= low)
            if high is not None:
                out.append(column <= high)
        return out


def _dict(text: str | None) -> dict[str, Any]:
    value = loads_json(text) if text else {}
    return value if isinstance(value, dict) else {}


def _record(row: SkyObject) -> ObjectRecord:
    return record_from_row(
        ObjectRecord,
        row,
        moving=bool(row.moving),
        n_nondetections=int(row.n_nondetections or 0),
        features=_dict(row.features_json),
        context=_dict(row.context_json),
    )


def sky_object(catalog: Catalog, key: int | str) -> ObjectRecord | None:
    """One object by id, or by public name (``ASTRID2026a``); None when there is none."""
    query = select(SkyObject)
    if isinstance(key, str) and not key.isdigit():
        query = query.where(SkyObject.name == key)
    else:
        query = query.where(SkyObject.id == int(key))
    with catalog_errors("read object"), catalog.session() as session:
        row = session.scalars(query).first()
        return None if row is None else _record(row)


def objects_by_id(catalog: Catalog, ids: Iterable[int]) -> dict[int, ObjectRecord]:
    """Objects by id (missing ids are absent from the result)."""
    wanted = sorted(set(ids))
    out: dict[int, ObjectRecord] = {}
    with catalog_errors("read objects"), catalog.session() as session:
        for start in range(0, len(wanted), 500):
            query = select(SkyObject).where(SkyObject.id.in_(wanted[start : start + 500]))
            out |= {row.id: _record(row) for row in session.scalars(query)}
    return out


def list_objects(
    catalog: Catalog,
    filters: ObjectFilters | None = None,
    *,
    before_id: int | None = None,
    limit: int = 100,
) -> list[ObjectRecord]:
    """Objects newest (highest id) first, below ``before_id`` when given.

    Raises
    ------
    InvalidQueryError
        If `limit` is outside [1, 10000].
    """
    filters = filters or ObjectFilters()
    query = newest_first(
        select(SkyObject).where(*filters.clauses()),
        SkyObject.id,
        before_id=before_id,
        limit=limit,
    )
    with catalog_errors("list objects"), catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def iter_objects(
    catalog: Catalog, filters: ObjectFilters | None = None, *, max_rows: int
) -> list[ObjectRecord]:
    """Every object passing the filters by id, refusing more than ``max_rows`` (exports).

    Raises
    ------
    InvalidQueryError
        If more than ``max_rows`` match (``field="filters"``, ``count`` the number).
    """
    filters = filters or ObjectFilters()
    count = count_objects(catalog, filters)
    if count > max_rows:
        raise InvalidQueryError(
            f"{count} objects match, more than the {max_rows} one request may take; "
            "narrow the filters",
            field="filters",
            count=count,
        )
    query = select(SkyObject).where(*filters.clauses()).order_by(SkyObject.id)
    with catalog_errors("read objects"), catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def count_objects(catalog: Catalog, filters: ObjectFilters | None = None) -> int:
    """How many objects pass the filters."""
    from sqlalchemy import func

    filters = filters or ObjectFilters()
    query = select(func.count(SkyObject.id)).where(*filters.clauses())
    with catalog_errors("count objects"), catalog.session() as session:
        return int(session.scalar(query) or 0)


def context_classes(catalog: Catalog) -> list[str]:
    """The context classes objects have now, sorted (for a filter's choices)."""
    query = (
        select(SkyObject.context_class)
        .where(SkyObject.context_class.is_not(None))
        .distinct()
        .order_by(SkyObject.context_class)
    )
    with catalog_errors("object context classes"), catalog.session() as session:
        return [str(name) for name in session.scalars(query)]


def object_cone_search(
    catalog: Catalog, *, ra: float, dec: float, radius_deg: float, limit: int = 1000
) -> list[ObjectCone]:
    """Objects within ``radius_deg`` of (``ra``, ``dec``), nearest first.

    Raises
    ------
    InvalidQueryError
        For a centre or radius out of range, or a limit outside [1, 10000].
    """
    check_limit(limit)
    in_index = cone_clause(SkyObject.healpix, ra, dec, radius_deg)
    with catalog_errors("object cone search"), catalog.session() as session:
        records = [_record(row) for row in session.scalars(select(SkyObject).where(in_index))]
    found = nearest_within(
        [r.ra for r in records], [r.dec for r in records], ra, dec, radius_deg, limit
    )
    return [ObjectCone(object=records[i], separation_arcsec=sep) for i, sep in found]


def update_summaries(catalog: Catalog, summaries: Mapping[int, Mapping[str, Any]]) -> int:
    """Write features and context on objects, one transaction; objects gone are skipped.

    Each summary maps names of `SUMMARY_COLUMNS` to values (``features`` and ``context``
    are dicts stored as JSON); names not given keep their stored value.

    Returns
    -------
    int
        How many objects were updated.

    Raises
    ------
    StorageError
        For a name outside `SUMMARY_COLUMNS`, a value JSON cannot hold, or a failed write.
    """
    rows = []
    for object_id, summary in summaries.items():
        unknown = sorted(set(summary) - set(SUMMARY_COLUMNS))
        if unknown:
            raise StorageError(f"object {object_id}: unknown summary columns {unknown}")
        values = {k: v for k, v in summary.items() if k not in ("features", "context")}
        for name in ("features", "context"):
            if name in summary:
                values[f"{name}_json"] = dumps_json(summary[name], f"{name} of object {object_id}")
        rows.append({"id": int(object_id), **values, "updated_at": utcnow()})
    if not rows:
        return 0
    updated = 0
    with catalog_errors("update object summaries"):
        with catalog.session() as session, session.begin():
            alive = set(
                session.scalars(
                    select(SkyObject.id).where(SkyObject.id.in_([r["id"] for r in rows]))
                )
            )
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                if row["id"] in alive:
                    by_columns.setdefault(tuple(sorted(row)), []).append(row)
            for same in by_columns.values():  # one executemany per set of columns
                session.execute(update(SkyObject), same)
                updated += len(same)
    return updated


def add_object_label(
    catalog: Catalog,
    *,
    object_id: int,
    curator: str,
    label: str,
    comment: str | None = None,
    actor: str | None = None,
) -> ObjectLabelRecord:
    """Record a curator's class of an object, with an audit entry by ``actor`` (default the
    curator) in the same transaction.

    Raises
    ------
    InvalidQueryError
        For a label outside `OBJECT_CLASSES` or an object that does not exist.
    """
    if label not in OBJECT_CLASSES:
        raise InvalidQueryError(
            f"unknown object class {label!r}; one of {', '.join(OBJECT_CLASSES)}",
            field="label",
            value=label,
        )
    with catalog_errors("label object"), catalog.session() as session, session.begin():
        if session.get(SkyObject, object_id) is None:
            raise InvalidQueryError(
                f"no object with id {object_id}", field="object_id", value=object_id
            )
        row = ObjectLabel(object_id=object_id, curator=curator, label=label, comment=comment)
        session.add(row)
        session.flush()
        session.add(
            audit_entry(
                actor=actor or curator,
                action="object_label.create",
                target=f"object:{object_id}",
                detail={"label": label, "label_id": row.id, "curator": curator},
            )
        )
        return record_from_row(ObjectLabelRecord, row)


def object_labels_of(catalog: Catalog, object_id: int) -> list[ObjectLabelRecord]:
    """Curators' classes of an object, oldest first."""
    query = select(ObjectLabel).where(ObjectLabel.object_id == object_id).order_by(ObjectLabel.id)
    with catalog_errors("object labels"), catalog.session() as session:
        return [record_from_row(ObjectLabelRecord, row) for row in session.scalars(query)]
