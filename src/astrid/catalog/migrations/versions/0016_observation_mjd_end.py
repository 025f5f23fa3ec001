"""A stack's latest input on its observation (``mjd_end``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

A reference stack is dated by the mean of its inputs (``MJD-OBS``); whether it was taken
before a science frame depends on its latest input (``MJD-END``), which the automatic
reference choice now reads from here. Null for a single exposure.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("mjd_end", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        batch.drop_column("mjd_end")
