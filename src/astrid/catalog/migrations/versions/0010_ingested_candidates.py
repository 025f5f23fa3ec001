"""Candidates ingested from survey alert packets: survey, source id, packet, schema, score.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A candidate read from a ZTF or Rubin alert packet keeps where it came from: ``survey``,
``source_id`` (the survey's detection id: ZTF ``candid``, Rubin ``diaSourceId``; unique per
survey, so a packet ingested twice is stored once), ``packet_id``, ``schema_version`` and
the survey's own real/bogus score ``survey_score``. AstrID's own candidates leave them null.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("candidates", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("survey", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("source_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("packet_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("schema_version", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("survey_score", sa.Float(), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_candidates_survey_source_id"), ["survey", "source_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("candidates", recreate=recreate_mode()) as batch:
        batch.drop_constraint(op.f("uq_candidates_survey_source_id"), type_="unique")
        batch.drop_column("survey_score")
        batch.drop_column("schema_version")
        batch.drop_column("packet_id")
        batch.drop_column("source_id")
        batch.drop_column("survey")
