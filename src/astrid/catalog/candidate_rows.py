"""Candidate mappings from the pipeline as rows for INSERT into ``candidates``.

Each mapping holds the candidate's columns by name (missing ones take their defaults) and
any other measurements, which go to ``features_json``. Numbers are checked: a float column
stores a non-finite value as NULL, an integer column refuses a non-integral number, a
required column refuses a missing one, ``dec`` must lie within [-90, 90]. The HEALPix
index (`astrid.catalog.sky_index`) is computed here, never taken from the mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy_healpix import HEALPix
from sqlalchemy import Float, Integer, String, Text

from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import HEALPIX_NSIDE, Candidate
from astrid.errors import StorageError

__all__ = ["candidate_rows", "finite_or_none"]

_HEALPIX = HEALPix(nside=HEALPIX_NSIDE, order="nested")
# Filled here, never taken from a candidate mapping.
_CANDIDATE_COMPUTED = frozenset({"id", "run_id", "number", "healpix", "features_json"})
_CANDIDATE_COLUMNS = frozenset(Candidate.__table__.columns.keys())


def finite_or_none(value: Any, field: str) -> float | None:
    """``value`` as a float, None when missing or not finite."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise StorageError(
            f"{field} must be a number, got {value!r}", field=field, value=value
        ) from e
    return number if math.isfinite(number) else None


def _int_or_none(value: Any, field: str) -> int | None:
    """``value`` as an int, None when missing or NaN; refuses non-integral numbers."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if not float(value).is_integer():
            raise StorageError(
                f"{field} must be an integer, got {value!r}", field=field, value=value
            )
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise StorageError(
            f"{field} must be an integer, got {value!r}", field=field, value=value
        ) from e


def candidate_rows(
    run_id: int, science_id: int, candidates: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Column dicts ready for INSERT, with numbers, healpix and features filled in."""
    columns = [c for c in Candidate.__table__.columns if c.key not in _CANDIDATE_COMPUTED]
    rows: list[dict[str, Any]] = []
    for number, candidate in enumerate(candidates):
        row: dict[str, Any] = {"run_id": run_id, "number": number}
        for column in columns:
            field = f"candidate {number}: {column.key}"
            if column.key in candidate:
                value = candidate[column.key]
            elif column.key == "observation_id":
                value = science_id
            elif column.default is not None and column.default.is_scalar:
                value = column.default.arg
            else:
                value = None
            if isinstance(column.type, Float):
                value = finite_or_none(value, field)
            elif isinstance(column.type, Integer):
                value = _int_or_none(value, field)
            elif isinstance(column.type, String | Text) and value is not None:
                value = str(value)
            if value is None and not column.nullable:
                raise StorageError(
                    f"{field} is required and must be finite, got {candidate.get(column.key)!r}",
                    field=column.key,
                    number=number,
                )
            row[column.key] = value
        extra = {k: v for k, v in candidate.items() if k not in _CANDIDATE_COLUMNS}
        features = dumps_json(extra, f"features of candidate {number}") if extra else None
        row["features_json"] = features
        rows.append(row)
    for number, row in enumerate(rows):
        if not -90.0 <= row["dec"] <= 90.0:
            raise StorageError(
                f"candidate {number}: dec must be within [-90, 90] degrees, got {row['dec']!r}",
                field="dec",
                number=number,
            )
    if rows:
        pixels = _HEALPIX.lonlat_to_healpix(
            np.array([r["ra"] for r in rows]) * u.deg, np.array([r["dec"] for r in rows]) * u.deg
        )
        for row, pixel in zip(rows, pixels, strict=True):
            row["healpix"] = int(pixel)
    return rows
