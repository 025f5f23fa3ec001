"""JSON columns (``*_json``): canonical text written, dicts read back; ``jsonb`` on PostgreSQL.

Values are written as plain JSON types with sorted keys; non-finite floats become null,
NumPy scalars and arrays plain numbers and lists, paths and enums their values, datetimes
ISO text, dataclasses dicts. Anything else is refused with a `StorageError` naming where it
was to be stored.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any

import numpy as np
from sqlalchemy import Float, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from astrid.errors import StorageError

__all__ = ["JsonNumber", "JsonText", "dumps_json", "loads_json"]


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON types; non-finite floats become None."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if type(value) is np.ndarray:  # subclasses such as Quantity would lose their units
        return _jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), where)
    raise StorageError(
        f"cannot store {type(value).__name__} value {value!r} as JSON in {where}; "
        "convert it to plain numbers, strings, lists or dicts",
        where=where,
    )


def dumps_json(value: Mapping[str, Any], where: str) -> str:
    """``value`` as canonical JSON text for a ``*_json`` column (non-finite floats -> null).

    Raises
    ------
    StorageError
        Naming ``where`` when a value cannot be stored as JSON.
    """
    return json.dumps(_jsonable(value, where), sort_keys=True, allow_nan=False)


def loads_json(text: str | None) -> dict[str, Any]:
    """A JSON column read back as a dict (empty for NULL)."""
    return dict(json.loads(text)) if text else {}


class JsonText(TypeDecorator[str]):
    """A ``*_json`` column: canonical JSON text in Python on every backend; stored as
    ``jsonb`` on PostgreSQL (queryable and indexable there: `JsonNumber`), as ``TEXT``
    elsewhere. Values go in and come out as the text `dumps_json` writes."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "postgresql" and isinstance(value, str):
            return json.loads(value)  # JSONB serialises the object itself
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True)  # jsonb comes back parsed


class JsonNumber(FunctionElement[float]):
    """``column[key]`` as a number, NULL where the key is missing or not a number, for
    comparisons in SQL: ``JsonNumber(Candidate.features_json, "psf_fwhm") > 2.5``. The key
    is passed as a bound parameter, never spliced into the SQL."""

    type = Float()
    inherit_cache = True
    name = "json_number"


@compiles(JsonNumber, "postgresql")
def _json_number_postgresql(element: JsonNumber, compiler: Any, **kw: Any) -> str:
    column, key = list(element.clauses)
    col, k = compiler.process(column, **kw), compiler.process(key, **kw)
    return (
        f"CASE WHEN jsonb_typeof({col} -> {k}) = 'number' "
        f"THEN CAST({col} ->> {k} AS DOUBLE PRECISION) END"
    )


@compiles(JsonNumber)
def _json_number_sqlite(element: JsonNumber, compiler: Any, **kw: Any) -> str:
    column, key = list(element.clauses)
    col, k = compiler.process(column, **kw), compiler.process(key, **kw)
    path = f"('$.\"' || {k} || '\"')"
    return (
        f"CASE WHEN json_type({col}, {path}) IN ('integer', 'real') "
        f"THEN json_extract({col}, {path}) END"
    )
