"""Light curves and context: forced photometry points, object features and context, labels.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``lightcurve_points`` holds forced photometry of each object on each run's difference
image (one row per object and run); ``objects`` gains light-curve features, the context
class with its deciding match and host, and the moving flag; ``object_labels`` curators'
classes of objects; ``processing_runs`` the objects stage status and the difference
image's footprint circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_OBJECT_CLASSES = (
    "sn_ia",
    "sn_ii",
    "sn_ibc",
    "tde",
    "agn",
    "cv",
    "variable_star",
    "asteroid",
    "bogus",
    "other",
)

# (name, type, nullable, server default)
_OBJECT_COLUMNS: tuple[tuple[str, Any, bool, Any], ...] = (
    ("n_nondetections", sa.Integer(), False, "0"),
    ("peak_mjd", sa.Float(), True, None),
    ("peak_mag", sa.Float(), True, None),
    ("peak_flux", sa.Float(), True, None),
    ("peak_band", sa.String(length=32), True, None),
    ("rise_rate", sa.Float(), True, None),
    ("decline_rate", sa.Float(), True, None),
    ("features_json", sa.Text(), True, None),
    ("context_class", sa.String(length=32), True, None),
    ("context_reason", sa.Text(), True, None),
    ("context_json", sa.Text(), True, None),
    ("xmatch_catalog", sa.String(length=64), True, None),
    ("xmatch_name", sa.String(length=128), True, None),
    ("xmatch_type", sa.String(length=64), True, None),
    ("xmatch_sep_arcsec", sa.Float(), True, None),
    ("host_name", sa.String(length=128), True, None),
    ("host_sep_arcsec", sa.Float(), True, None),
    ("host_dlr", sa.Float(), True, None),
    ("host_distance_mpc", sa.Float(), True, None),
    ("moving", sa.Boolean(), False, sa.false()),
    ("updated_at", sa.DateTime(timezone=True), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        for name, type_, nullable, default in _OBJECT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
        batch.create_index(op.f("ix_objects_peak_mag"), ["peak_mag"], unique=False)
        batch.create_index(op.f("ix_objects_context_class"), ["context_class"], unique=False)
    with op.batch_alter_table("processing_runs") as batch:
        batch.add_column(sa.Column("objects_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("objects_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("footprint_ra", sa.Float(), nullable=True))
        batch.add_column(sa.Column("footprint_dec", sa.Float(), nullable=True))
        batch.add_column(sa.Column("footprint_radius", sa.Float(), nullable=True))
        batch.create_check_constraint(
            "objects_status", "objects_status IN ('pending', 'done', 'failed')"
        )
        batch.create_index(
            op.f("ix_processing_runs_objects_status"), ["objects_status"], unique=False
        )
        batch.create_index(
            op.f("ix_processing_runs_footprint_dec"), ["footprint_dec"], unique=False
        )
    op.create_table(
        "lightcurve_points",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("object_id", _BIG_ID, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", _BIG_ID, nullable=True),
        sa.Column("mjd", sa.Float(), nullable=True),
        sa.Column("band", sa.String(length=32), nullable=True),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("flux", sa.Float(), nullable=True),
        sa.Column("flux_err", sa.Float(), nullable=True),
        sa.Column("zero_point", sa.Float(), nullable=True),
        sa.Column("detected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["objects.id"],
            name=op.f("fk_lightcurve_points_object_id_objects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["processing_runs.id"],
            name=op.f("fk_lightcurve_points_run_id_processing_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_lightcurve_points_observation_id_observations"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_lightcurve_points_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lightcurve_points")),
        sa.UniqueConstraint(
            "object_id", "run_id", name=op.f("uq_lightcurve_points_object_id_run_id")
        ),
    )
    op.create_index(
        op.f("ix_lightcurve_points_object_id"), "lightcurve_points", ["object_id"], unique=False
    )
    op.create_index(
        op.f("ix_lightcurve_points_run_id"), "lightcurve_points", ["run_id"], unique=False
    )
    allowed = ", ".join(f"'{c}'" for c in _OBJECT_CLASSES)
    op.create_table(
        "object_labels",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("object_id", _BIG_ID, nullable=False),
        sa.Column("curator", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"label IN ({allowed})", name=op.f("ck_object_labels_label")),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["objects.id"],
            name=op.f("fk_object_labels_object_id_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_labels")),
    )
    op.create_index(
        op.f("ix_object_labels_object_id"), "object_labels", ["object_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_object_labels_object_id"), table_name="object_labels")
    op.drop_table("object_labels")
    op.drop_index(op.f("ix_lightcurve_points_run_id"), table_name="lightcurve_points")
    op.drop_index(op.f("ix_lightcurve_points_object_id"), table_name="lightcurve_points")
    op.drop_table("lightcurve_points")
    with op.batch_alter_table("processing_runs") as batch:
        batch.drop_index(op.f("ix_processing_runs_footprint_dec"))
        batch.drop_index(op.f("ix_processing_runs_objects_status"))
        batch.drop_constraint("objects_status", type_="check")
        for name in (
            "footprint_radius",
            "footprint_dec",
            "footprint_ra",
            "objects_error",
            "objects_status",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("objects") as batch:
        batch.drop_index(op.f("ix_objects_context_class"))
        batch.drop_index(op.f("ix_objects_peak_mag"))
        for name, *_ in reversed(_OBJECT_COLUMNS):
            batch.drop_column(name)
