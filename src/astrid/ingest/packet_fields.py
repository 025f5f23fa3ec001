"""Reading fields of decoded Avro records, with the field at fault named when one is missing.

fastavro decodes a packet into nested dicts; a field the writer's schema lacks is absent,
a nullable one may be None. `required` refuses both, naming the field by its path in the
packet (``"candidate.ra"``); `optional` returns the first present, non-null value of a
field's names across schema versions (``"psfFlux"``, then ``"psFlux"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from astrid.errors import IngestError

__all__ = [
    "optional",
    "optional_float",
    "optional_int",
    "required",
    "required_float",
    "required_int",
]


def optional(record: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` present and not null in ``record``, else None."""
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None


def required(record: Mapping[str, Any], *names: str, where: str) -> Any:
    """The value of the first of ``names`` present and not null, or `IngestError`.

    ``where`` is the record's path in the packet (``"candidate"``, ``"diaSource"``); the
    error's ``field`` is ``"<where>.<first name>"`` (the name of the newest schema).
    """
    value = optional(record, *names)
    if value is None:
        field = f"{where}.{names[0]}" if where else names[0]
        state = "null" if any(n in record for n in names) else "missing"
        raise IngestError(f"required field {field} is {state}", field=field, state=state)
    return value


def _field(names: tuple[str, ...], where: str) -> str:
    return f"{where}.{names[0]}" if where else names[0]


def _number(value: Any, kind: type[float] | type[int], field: str) -> Any:
    """``value`` as ``kind``, or `IngestError` naming the field (a schema of other types)."""
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise IngestError(
            f"field {field} is {value!r}: expected a number", field=field, value=value
        ) from e


def optional_float(record: Mapping[str, Any], *names: str, where: str = "") -> float | None:
    """Like `optional`, as a float; None also for NaN and infinities."""
    value = optional(record, *names)
    if value is None:
        return None
    number = float(_number(value, float, _field(names, where)))
    return number if math.isfinite(number) else None


def required_float(record: Mapping[str, Any], *names: str, where: str) -> float:
    """Like `required`, as a finite float (`IngestError` for NaN or an infinity)."""
    field = _field(names, where)
    number = float(_number(required(record, *names, where=where), float, field))
    if not math.isfinite(number):
        raise IngestError(f"field {field} is {number}", field=field, value=number)
    return number


def optional_int(record: Mapping[str, Any], *names: str, where: str = "") -> int | None:
    """Like `optional`, as an int."""
    value = optional(record, *names)
    return None if value is None else int(_number(value, int, _field(names, where)))


def required_int(record: Mapping[str, Any], *names: str, where: str) -> int:
    """Like `required`, as an int (`IngestError` for a value that is not one)."""
    return int(_number(required(record, *names, where=where), int, _field(names, where)))
