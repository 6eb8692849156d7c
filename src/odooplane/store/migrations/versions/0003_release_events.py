"""Release events: installs, upgrades, rollbacks, promotion requests, approvals and gate decisions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("release", sa.String(64), nullable=True),
        sa.Column("from_release", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("downtime_s", sa.Float, nullable=True),
        sa.Column("operation_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_release_events_target", "release_events", ["target", "id"])


def downgrade() -> None:
    op.drop_table("release_events")
