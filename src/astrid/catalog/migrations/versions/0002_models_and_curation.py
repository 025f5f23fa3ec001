"""Model versions and candidate scores; labels, review claims, API keys, audit log, jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Hand-written like 0001; constraint and index names follow the models' naming convention.
The candidates columns are added in batch mode so SQLite can take the foreign key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LABELS = (
    "real",
    "bogus",
    "variable",
    "cosmic_ray",
    "hot_pixel",
    "bad_column",
    "saturated_star",
    "bleed_trail",
    "dipole",
    "psf_ring",
    "satellite_trail",
    "noise",
    "unsure",
)
_OOD_COLUMNS = ("ood", "ood_msp", "ood_energy", "ood_mahalanobis")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(length=255), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("card_json", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_model_versions_name_version")),
    )

    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("rb", sa.Float(), nullable=True))
        for name in _OOD_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("model_version_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_candidates_model_version_id_model_versions"),
            "model_versions",
            ["model_version_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_candidates_rb"), ["rb"], unique=False)
        batch.create_index(
            op.f("ix_candidates_model_version_id"), ["model_version_id"], unique=False
        )

    op.create_table(
        "labels",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("candidate_id", _BIG_ID, nullable=False),
        sa.Column("curator", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("label", _LABELS), name=op.f("ck_labels_label")),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_labels_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_index(op.f("ix_labels_candidate_id"), "labels", ["candidate_id"], unique=False)

    op.create_table(
        "review_claims",
        sa.Column("candidate_id", _BIG_ID, nullable=False),
        sa.Column("curator", sa.String(length=255), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_review_claims_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_review_claims")),
    )
    op.create_index(op.f("ix_review_claims_curator"), "review_claims", ["curator"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _in("role", ("viewer", "curator", "admin")), name=op.f("ck_api_keys_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_keys_key_sha256")),
    )
    op.create_index(op.f("ix_api_keys_prefix"), "api_keys", ["prefix"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"], unique=False)
    op.create_index(op.f("ix_audit_log_created_at"), "audit_log", ["created_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _in("status", ("queued", "running", "done", "failed")), name=op.f("ck_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_jobs_observation_id_observations"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["processing_runs.id"], name=op.f("fk_jobs_run_id_processing_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_status"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_audit_log_created_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_api_keys_prefix"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_review_claims_curator"), table_name="review_claims")
    op.drop_table("review_claims")
    op.drop_index(op.f("ix_labels_candidate_id"), table_name="labels")
    op.drop_table("labels")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_index(op.f("ix_candidates_model_version_id"))
        batch.drop_index(op.f("ix_candidates_rb"))
        batch.drop_constraint(
            op.f("fk_candidates_model_version_id_model_versions"), type_="foreignkey"
        )
        batch.drop_column("model_version_id")
        for name in reversed(_OOD_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("rb")
    op.drop_table("model_versions")
