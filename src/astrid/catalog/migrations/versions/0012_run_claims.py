"""Claims on runs: a lease renewed by heartbeat and a fencing token.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

A process claims a run before computing it (`astrid.catalog.claims`): it owns the run until
``lease_expires_at`` (renewed while it works); ``fence`` is incremented on every claim, and
the result is written only by the holder of the current fence.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("processing_runs", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("fence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("processing_runs", recreate=recreate_mode()) as batch:
        batch.drop_column("fence")
        batch.drop_column("lease_expires_at")
