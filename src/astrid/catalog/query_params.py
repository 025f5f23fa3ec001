"""Parameters of catalog reads, checked: candidate filters, sort keys, cursors, limits.

Candidates are listed with filters, a sort key and keyset (cursor) pagination: a page ends
with an opaque cursor encoding the last row's sort value and id, and the next page starts
strictly after it, so pages never skip or repeat rows while new ones are added. Sort keys
that may be NULL (``rb``, ``mag``...) sort with NULLs last in either direction. A parameter
that is not valid raises `InvalidQueryError` naming it (``field``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from astrid.catalog.json_columns import JsonNumber
from astrid.catalog.models import Candidate, Label, Observation
from astrid.catalog.sky_index import angular_separation_deg, cone_ranges
from astrid.curation.labels import LABELS
from astrid.errors import StorageError

S = TypeVar("S", bound="Select[Any]")

__all__ = [
    "SORT_KEYS",
    "CandidateFilters",
    "FeatureBound",
    "InvalidQueryError",
    "SortKey",
    "check_limit",
    "decode_cursor",
    "encode_cursor",
    "filter_clauses",
    "newest_first",
    "rows_after",
    "sort_column",
]


class InvalidQueryError(StorageError):
    """A query parameter (filter, sort key, cursor) is invalid; ``field`` names it."""


_FEATURE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*(>=|<=|>|<|=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class FeatureBound:
    """A comparison of one of a candidate's features (``features_json``) with a number:
    ``psf_fwhm>2.5``, ``ood_mahalanobis<=3``. A candidate without that feature, or whose
    value is not a number, does not match."""

    name: str
    op: Literal[">=", "<=", ">", "<", "="]
    value: float

    @classmethod
    def parse(cls, text: str) -> FeatureBound:
        """``NAME OP NUMBER`` (OP one of ``>= <= > < =``).

        Raises
        ------
        InvalidQueryError
            Naming the ``feature`` parameter and what is wrong with ``text``.
        """
        match = _FEATURE.match(text)
        if match is None:
            raise InvalidQueryError(
                f"feature filter {text[:80]!r}: expected NAME OP NUMBER, e.g. psf_fwhm>2.5 "
                "(NAME letters, digits and _; OP one of >= <= > < =)",
                field="feature",
            )
        name, op, number = match.groups()
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InvalidQueryError(
                f"feature filter {text[:80]!r}: {number[:40]!r} is not a finite number",
                field="feature",
            )
        return cls(name, op, value)  # type: ignore[arg-type]

    def clause(self) -> ColumnElement[bool]:
        """The SQL condition (`JsonNumber`: jsonb on PostgreSQL, JSON1 on SQLite)."""
        number = JsonNumber(Candidate.features_json, literal(self.name))
        compare = {
            ">=": number >= self.value,
            "<=": number <= self.value,
            ">": number > self.value,
            "<": number < self.value,
            "=": number == self.value,
        }
        return compare[self.op]


@dataclass(frozen=True)
class CandidateFilters:
    """Filters of a candidate listing; None means "any". Ranges are inclusive.
    ``features`` are comparisons of stored features (`FeatureBound`), all of which match.

    ``model_version_id`` matches candidates scored by that model version. ``label``
    matches candidates that any curator gave that label; ``reviewed`` those
    with (True) or without (False) any label.
    """

    run_id: int | None = None
    observation_id: int | None = None
    model_version_id: int | None = None
    mjd_min: float | None = None
    mjd_max: float | None = None
    rb_min: float | None = None
    rb_max: float | None = None
    ood_min: float | None = None
    ood_max: float | None = None
    sign: int | None = None
    label: str | None = None
    reviewed: bool | None = None
    features: tuple[FeatureBound, ...] = ()

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


def sort_column(key: str) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
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


def check_limit(limit: int, maximum: int = 10_000) -> None:
    if not 1 <= limit <= maximum:
        raise InvalidQueryError(
            f"limit must be within [1, {maximum}], got {limit!r}", field="limit", value=limit
        )


def newest_first(
    query: S,
    id_column: InstrumentedAttribute[int],
    *,
    before_id: int | None,
    limit: int,
    maximum: int = 10_000,
) -> S:
    """``query`` newest (highest id) first, `limit` rows, below ``before_id`` when given.

    Raises
    ------
    InvalidQueryError
        If `limit` is outside ``[1, maximum]``.
    """
    check_limit(limit, maximum)
    query = query.order_by(id_column.desc()).limit(limit)
    return query if before_id is None else query.where(id_column < before_id)


def filter_clauses(filters: CandidateFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    equal = (
        (filters.run_id, Candidate.run_id),
        (filters.observation_id, Candidate.observation_id),
        (filters.model_version_id, Candidate.model_version_id),
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
    clauses.extend(bound.clause() for bound in filters.features)
    return clauses


def encode_cursor(sort: str, descending: bool, value: Any, last_id: int) -> str:
    text = json.dumps({"s": sort, "d": descending, "v": value, "i": last_id})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[float | None, int]:
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


def rows_after(
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


def cone_clause(
    healpix: InstrumentedAttribute[int], ra: float, dec: float, radius_deg: float
) -> ColumnElement[bool]:
    """The HEALPix index ranges that cover a cone, as a WHERE clause on ``healpix``.

    Raises
    ------
    InvalidQueryError
        For a centre or radius out of range (``field`` "radius" or "dec").
    """
    try:
        ranges = cone_ranges(ra, dec, radius_deg)
    except ValueError as e:
        raise InvalidQueryError(str(e), field="radius" if "radius" in str(e) else "dec") from e
    return or_(*(healpix.between(a, b - 1) for a, b in ranges)) if ranges else false()


def nearest_within(
    ras: list[float], decs: list[float], ra: float, dec: float, radius_deg: float, limit: int
) -> list[tuple[int, float]]:
    """(index, separation in arcsec) of the positions inside the cone, nearest first."""
    if not ras:
        return []
    sep = angular_separation_deg(np.array(ras), np.array(decs), ra, dec)
    order = np.argsort(sep, kind="stable")
    return [(int(i), float(sep[i]) * 3600.0) for i in order if sep[i] <= radius_deg][:limit]
