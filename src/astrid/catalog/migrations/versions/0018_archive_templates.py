"""An index of templates fetched from survey archives (``archive_templates``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

`astrid references fetch` and `astrid run` keep each fetched template in the object store;
this table maps the request's digest (survey, band, position, size) to its store key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_templates",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("survey", sa.String(length=255), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=True),
        sa.Column("ra", sa.Float(), nullable=False),
        sa.Column("dec", sa.Float(), nullable=False),
        sa.Column("shape_y", sa.Integer(), nullable=False),
        sa.Column("shape_x", sa.Integer(), nullable=False),
        sa.Column("store_key", sa.String(length=255), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_archive_templates")),
    )


def downgrade() -> None:
    op.drop_table("archive_templates")
