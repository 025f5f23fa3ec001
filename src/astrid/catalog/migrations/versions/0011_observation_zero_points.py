"""Photometric calibration on observations: zero point, its error, stars, source, depth.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

A processed science frame records its zero point (AB magnitude of one unit of its flux),
the zero point's 1σ error and the number of catalogue stars it was fitted to (null when it
came from a header), where it came from (``catalogue``, ``header``, ``reference header``)
and the frame's 5σ point-source limiting magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "zero_point",
    "zero_point_error",
    "zero_point_stars",
    "zero_point_source",
    "limiting_mag",
)


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("zero_point", sa.Float(), nullable=True))
        batch.add_column(sa.Column("zero_point_error", sa.Float(), nullable=True))
        batch.add_column(sa.Column("zero_point_stars", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("zero_point_source", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("limiting_mag", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
