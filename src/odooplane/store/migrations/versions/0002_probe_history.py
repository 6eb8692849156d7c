"""Probe history: one row per environment per health sweep (for trends and the status page).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "probe_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
    )
    op.create_index("ix_probe_results_target_ts", "probe_results", ["target", "ts"])


def downgrade() -> None:
    op.drop_table("probe_results")
