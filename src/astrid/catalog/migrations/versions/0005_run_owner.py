"""Processing runs: a ``queued`` status and the process that owns a run.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

A run is ``queued`` from admission until a worker begins it, then ``running``; ``owner``
(``host:pid:start``) names the process that queued or runs it, so a run whose process died
(``kill -9``) can be told from one still in progress and marked failed ("interrupted").
Batch mode, so SQLite can change the status check.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processing_runs") as batch:
        batch.drop_constraint(op.f("ck_processing_runs_status"), type_="check")
        batch.create_check_constraint("status", "status IN ('queued', 'running', 'done', 'failed')")
        batch.add_column(sa.Column("owner", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE processing_runs SET status = 'failed' WHERE status = 'queued'")
    with op.batch_alter_table("processing_runs") as batch:
        batch.drop_column("owner")
        batch.drop_constraint(op.f("ck_processing_runs_status"), type_="check")
        batch.create_check_constraint("status", "status IN ('running', 'done', 'failed')")
