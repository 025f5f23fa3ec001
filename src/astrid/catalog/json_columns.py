"""JSON columns (``*_json``): canonical text written, dicts read back.

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

from astrid.errors import StorageError

__all__ = ["dumps_json", "loads_json"]


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
