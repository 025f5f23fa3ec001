"""Frozen records from ORM rows: how every read of the catalog hands its rows out.

A record is a frozen dataclass whose fields are named like the row's columns; the few that
are computed (JSON decoded, a shape from two columns) are passed by name.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["record_from_row"]

R = TypeVar("R", bound="DataclassInstance")


def record_from_row(record_type: type[R], row: object, **computed: Any) -> R:
    """A `record_type` holding the row's attribute of each field's name, or `computed`'s.

    Parameters
    ----------
    record_type : type
        A dataclass.
    row : object
        An ORM row (or any object with the attributes).
    **computed
        Values of the fields not read straight from the row.
    """
    return record_type(
        **{
            name: computed[name] if name in computed else getattr(row, name)
            for name in _field_names(record_type)
        }
    )


@cache
def _field_names(record_type: type) -> tuple[str, ...]:
    """A dataclass's field names (`dataclasses.fields` costs more than reading a row)."""
    return tuple(f.name for f in fields(record_type))
