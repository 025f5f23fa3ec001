"""Initial catalog: observations, processing runs, candidates, events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Hand-written so it does not change when the models do; every constraint and index is named
explicitly (the names the models' naming convention gives) so later batch migrations on
SQLite can address them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("store_key", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("mjd", sa.Float(), nullable=True),
        sa.Column("filter", sa.String(length=32), nullable=True),
        sa.Column("exptime", sa.Float(), nullable=False),
        sa.Column("gain", sa.Float(), nullable=False),
        sa.Column("shape_y", sa.Integer(), nullable=False),
        sa.Column("shape_x", sa.Integer(), nullable=False),
        sa.Column("wcs_header", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('science', 'reference')", name=op.f("ck_observations_role")),
        sa.CheckConstraint(
            "status IN ('registered', 'failed', 'processed')", name=op.f("ck_observations_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("content_sha256", name=op.f("uq_observations_content_sha256")),
    )

    op.create_table(
        "processing_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("science_id", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_stage", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("n_candidates", sa.Integer(), nullable=False),
        sa.Column("stats_json", sa.Text(), nullable=True),
        sa.Column("timings_json", sa.Text(), nullable=True),
        sa.Column("products_json", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed')", name=op.f("ck_processing_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["science_id"],
            ["observations.id"],
            name=op.f("fk_processing_runs_science_id_observations"),
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["observations.id"],
            name=op.f("fk_processing_runs_reference_id_observations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_runs")),
        sa.UniqueConstraint("key", name=op.f("uq_processing_runs_key")),
    )
    op.create_index(
        op.f("ix_processing_runs_science_id"), "processing_runs", ["science_id"], unique=False
    )

    op.create_table(
        "candidates",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("ra", sa.Float(), nullable=False),
        sa.Column("dec", sa.Float(), nullable=False),
        sa.Column("healpix", sa.BigInteger(), nullable=False),
        sa.Column("sign", sa.Integer(), nullable=False),
        sa.Column("scorr", sa.Float(), nullable=False),
        sa.Column("snr", sa.Float(), nullable=True),
        sa.Column("flux", sa.Float(), nullable=True),
        sa.Column("flux_err", sa.Float(), nullable=True),
        sa.Column("mag", sa.Float(), nullable=True),
        sa.Column("mag_err", sa.Float(), nullable=True),
        sa.Column("fwhm", sa.Float(), nullable=True),
        sa.Column("elongation", sa.Float(), nullable=True),
        sa.Column("n_bad_pixels", sa.Integer(), nullable=False),
        sa.Column("dist_nearest_ref_source_arcsec", sa.Float(), nullable=True),
        sa.Column("features_json", sa.Text(), nullable=True),
        sa.Column("cutout_science_key", sa.String(length=255), nullable=True),
        sa.Column("cutout_reference_key", sa.String(length=255), nullable=True),
        sa.Column("cutout_difference_key", sa.String(length=255), nullable=True),
        sa.CheckConstraint("sign IN (-1, 1)", name=op.f("ck_candidates_sign")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["processing_runs.id"],
            name=op.f("fk_candidates_run_id_processing_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_candidates_observation_id_observations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("run_id", "number", name=op.f("uq_candidates_run_id_number")),
    )
    op.create_index(op.f("ix_candidates_run_id"), "candidates", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_candidates_observation_id"), "candidates", ["observation_id"], unique=False
    )
    op.create_index(op.f("ix_candidates_healpix"), "candidates", ["healpix"], unique=False)
    op.create_index(op.f("ix_candidates_ra_dec"), "candidates", ["ra", "dec"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_type"), "events", ["type"], unique=False)
    op.create_index(op.f("ix_events_created_at"), "events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_events_created_at"), table_name="events")
    op.drop_index(op.f("ix_events_type"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_candidates_ra_dec"), table_name="candidates")
    op.drop_index(op.f("ix_candidates_healpix"), table_name="candidates")
    op.drop_index(op.f("ix_candidates_observation_id"), table_name="candidates")
    op.drop_index(op.f("ix_candidates_run_id"), table_name="candidates")
    op.drop_table("candidates")
    op.drop_index(op.f("ix_processing_runs_science_id"), table_name="processing_runs")
    op.drop_table("processing_runs")
    op.drop_table("observations")
