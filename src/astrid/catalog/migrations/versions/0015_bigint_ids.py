"""64-bit ids on PostgreSQL for every table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Observations, runs, jobs, model versions, API keys, alert filters and subscriptions had
32-bit ids on PostgreSQL (SQLite's INTEGER is 64-bit already): an id past 2³¹ − 1 in a
request (the API accepts ids up to 2⁶²) failed the query there with "integer out of range"
instead of finding nothing, and a busy catalog would run out of ids. Their ids, the columns
that refer to them and their sequences become ``bigint``. Nothing changes on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables whose ``id`` becomes bigint.
TABLES = (
    "observations",
    "processing_runs",
    "jobs",
    "model_versions",
    "api_keys",
    "alert_filters",
    "alert_subscriptions",
)

#: The columns that refer to those ids.
REFERENCES = (
    ("processing_runs", "science_id"),
    ("processing_runs", "reference_id"),
    ("candidates", "model_version_id"),
    ("candidates", "observation_id"),
    ("candidates", "run_id"),
    ("jobs", "observation_id"),
    ("jobs", "run_id"),
    ("alerts", "run_id"),
    ("lightcurve_points", "run_id"),
    ("lightcurve_points", "observation_id"),
    ("alert_subscriptions", "filter_id"),
    ("alert_deliveries", "subscription_id"),
)


def _retype(kind: str) -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN id TYPE {kind}')
        sequence = bind.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
        ).scalar()
        if sequence:
            op.execute(f"ALTER SEQUENCE {sequence} AS {kind}")
    for table, column in REFERENCES:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {kind}')


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _retype("bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _retype("integer")
