"""What the Alembic migrations share."""

from __future__ import annotations

from typing import Literal

from alembic import op

__all__ = ["recreate_mode"]


def recreate_mode() -> Literal["always", "auto"]:
    """How `op.batch_alter_table` changes a table: on SQLite recreated (so the stored DDL
    equals ``create_all``'s), elsewhere altered in place (recreating a PostgreSQL table
    would drop the constraints other tables' foreign keys depend on)."""
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"
