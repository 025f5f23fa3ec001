"""Job leases renewed by heartbeat.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

A running job holds its worker's lease until ``lease_expires_at``, renewed while it runs;
a job whose lease lapsed (its worker died or hung) is requeued, one that is still renewed
is never taken from a live worker however long it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("jobs", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", recreate=recreate_mode()) as batch:
        batch.drop_column("lease_expires_at")
