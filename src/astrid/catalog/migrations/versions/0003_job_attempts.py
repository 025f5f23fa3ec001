"""Jobs count their attempts, so a job that kills its worker every time is given up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

Hand-written like 0001 and 0002. Existing jobs start at 0 attempts (the server default).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # recreated on SQLite so its stored DDL is the one create_all writes (tests compare)
    with op.batch_alter_table("jobs", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs", recreate=recreate_mode()) as batch:
        batch.drop_column("attempts")
