"""The newest probe result of each target, kept beside the history so that plan and status read
the last sweep with one small query at any estate size.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "probe_latest",
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
    )
    op.execute(
        "INSERT INTO probe_latest (target, ts, status, checks) "
        "SELECT target, ts, status, checks FROM probe_results "
        "WHERE id IN (SELECT MAX(id) FROM probe_results GROUP BY target)"
    )


def downgrade() -> None:
    op.drop_table("probe_latest")
