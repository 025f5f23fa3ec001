"""A reference stack's summary on its observation (``stack_json``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A reference built by ``astrid coadd`` / ``astrid references build`` is recorded with what
it is made of: method, inputs (file, hash, MJD, seeing, noise, flux scale, weight), PSF
FWHM, depth gain and date range (`astrid.difference.stack_files.stack_summary`). Null for
a single exposure.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.json_columns import JsonText
from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("stack_json", JsonText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations", recreate=recreate_mode()) as batch:
        batch.drop_column("stack_json")
