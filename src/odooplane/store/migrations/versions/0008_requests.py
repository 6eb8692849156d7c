"""Requested operations: an operation the service queued (``status = 'queued'``) with what it
must do (``request``), claimed and run by a worker, and resumed by another when its worker dies.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("request", sa.JSON, nullable=True))
    op.add_column("operations", sa.Column("claims", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_operations_queue", "operations", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_operations_queue", "operations")
    op.drop_column("operations", "claims")
    op.drop_column("operations", "request")
