"""Objects: sources that group candidates across frames, with public names.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

``objects`` holds each source's flux-weighted position (with its HEALPix index), detection
count, first/last MJD and unique public name; ``object_name_counters`` the last name
sequence per year; ``candidates.object_id`` the one object a candidate belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("ra", sa.Float(), nullable=False),
        sa.Column("dec", sa.Float(), nullable=False),
        sa.Column("healpix", sa.BigInteger(), nullable=False),
        sa.Column("n_detections", sa.Integer(), nullable=False),
        sa.Column("first_mjd", sa.Float(), nullable=True),
        sa.Column("last_mjd", sa.Float(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("year_sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objects")),
        sa.UniqueConstraint("name", name=op.f("uq_objects_name")),
        sa.UniqueConstraint("year", "year_sequence", name=op.f("uq_objects_year_year_sequence")),
    )
    op.create_index(op.f("ix_objects_healpix"), "objects", ["healpix"], unique=False)
    op.create_table(
        "object_name_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_object_name_counters")),
    )
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("object_id", _BIG_ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_candidates_object_id_objects"),
            "objects",
            ["object_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_candidates_object_id"), ["object_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_index(op.f("ix_candidates_object_id"))
        batch.drop_constraint(op.f("fk_candidates_object_id_objects"), type_="foreignkey")
        batch.drop_column("object_id")
    op.drop_table("object_name_counters")
    op.drop_index(op.f("ix_objects_healpix"), table_name="objects")
    op.drop_table("objects")
