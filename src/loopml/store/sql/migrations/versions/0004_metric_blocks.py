"""Metric history in blocks: the points of one key from one log_batch call, packed as columns.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("id", _row_id, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("step_data", sa.LargeBinary, nullable=False),
        sa.Column("timestamp_data", sa.LargeBinary, nullable=False),
        sa.Column("value_data", sa.LargeBinary, nullable=False),
        sa.Column("after_id", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_metric_blocks_history", "metric_blocks", ["run_id", "key", "id"])


def downgrade() -> None:
    op.drop_table("metric_blocks")
