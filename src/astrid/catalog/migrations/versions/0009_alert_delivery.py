"""Alert delivery: filters, subscriptions, one record per (alert, subscription).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

``alerts`` gains the store keys of its packet and sidecar and its filter fields;
``alert_filters`` holds named filter expressions, ``alert_subscriptions`` connects one to a
destination, and ``alert_deliveries`` records each (alert, subscription) once (unique
pair) with its status, attempts, next attempt and the sender's claim.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from astrid.catalog.migration_helpers import recreate_mode

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # SQLite: recreated so its stored DDL equals create_all's; elsewhere ALTER TABLE
    with op.batch_alter_table("alerts", recreate=recreate_mode()) as batch:
        batch.add_column(sa.Column("avro_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("sidecar_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("fields_json", sa.Text(), nullable=True))
    op.create_table(
        "alert_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_filters")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_filters_name")),
    )
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("options_json", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["filter_id"],
            ["alert_filters.id"],
            name=op.f("fk_alert_subscriptions_filter_id_alert_filters"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_subscriptions")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_subscriptions_name")),
    )
    op.create_index(
        op.f("ix_alert_subscriptions_filter_id"),
        "alert_subscriptions",
        ["filter_id"],
        unique=False,
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("alert_id", _BIG_ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", _WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("delivered_at", _WHEN, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')",
            name=op.f("ck_alert_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscriptions.id"],
            name=op.f("fk_alert_deliveries_subscription_id_alert_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "subscription_id", name=op.f("uq_alert_deliveries_alert_id_subscription_id")
        ),
    )
    op.create_index(
        "ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        op.f("ix_alert_deliveries_subscription_id"),
        "alert_deliveries",
        ["subscription_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_deliveries_subscription_id"), table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index(op.f("ix_alert_subscriptions_filter_id"), table_name="alert_subscriptions")
    op.drop_table("alert_subscriptions")
    op.drop_table("alert_filters")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("fields_json")
        batch.drop_column("sidecar_key")
        batch.drop_column("avro_key")
