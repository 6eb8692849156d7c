"""Usage metering: hourly sums per environment or pool, and the counters' last readings.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_hours",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("cpu_cores_sum", sa.Float, nullable=False),
        sa.Column("memory_bytes_sum", sa.Float, nullable=False),
        sa.Column("storage_bytes", sa.BigInteger, nullable=False),
        sa.Column("requests", sa.Float, nullable=False),
        sa.Column("db_active_ms", sa.Float, nullable=False),
        sa.Column("egress_bytes", sa.Float, nullable=False),
    )
    op.create_table(
        "usage_counters",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_counters")
    op.drop_table("usage_hours")
