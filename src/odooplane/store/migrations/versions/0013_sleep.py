"""Sleeping non-production: each environment's sleep, wake and wake requests.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sleep_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
    )
    op.create_index("ix_sleep_events_target", "sleep_events", ["target", "id"])


def downgrade() -> None:
    op.drop_index("ix_sleep_events_target", "sleep_events")
    op.drop_table("sleep_events")
