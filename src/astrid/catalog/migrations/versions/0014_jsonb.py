"""JSON columns as jsonb on PostgreSQL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Every ``*_json`` column becomes ``jsonb`` on PostgreSQL, so candidates can be filtered by a
feature in SQL (`astrid.catalog.json_columns.JsonNumber`) and the columns indexed; the
text in them is valid JSON already (`dumps_json` wrote it). SQLite keeps TEXT: nothing to
do there.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column) of every JSON column at this revision.
COLUMNS = (
    ("processing_runs", "config_json"),
    ("processing_runs", "stats_json"),
    ("processing_runs", "timings_json"),
    ("processing_runs", "products_json"),
    ("candidates", "features_json"),
    ("objects", "features_json"),
    ("objects", "context_json"),
    ("alerts", "fields_json"),
    ("model_versions", "metrics_json"),
    ("model_versions", "card_json"),
    ("audit_log", "detail_json"),
    ("events", "payload_json"),
    ("jobs", "payload_json"),
    ("alert_subscriptions", "options_json"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE text USING "{column}"::text'
        )
