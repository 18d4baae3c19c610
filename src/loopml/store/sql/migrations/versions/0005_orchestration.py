"""Orchestration: flow runs, task runs, their logs and artifacts, and the task cache.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _flow_run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("flow_runs.flow_run_id", ondelete="CASCADE")


def upgrade() -> None:
    _flow_runs()
    _task_runs()
    _logs_and_artifacts()
    _task_cache()


def _flow_runs() -> None:
    op.create_table(
        "flow_runs",
        sa.Column("flow_run_id", sa.String(32), primary_key=True),
        sa.Column("flow_name", sa.String(250), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("flow_version", sa.String(256), nullable=True),
        sa.Column("entrypoint", sa.String(1024), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("parameters_ref", sa.String(1024), nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("parent_flow_run_id", sa.String(32), nullable=True),
        sa.Column("parent_task_run_id", sa.String(32), nullable=True),
        sa.Column("tracking_run_id", sa.String(32), nullable=True),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_time", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("history", sa.Text, nullable=False),
    )
    op.create_index("ix_flow_runs_flow_name_start", "flow_runs", ["flow_name", "start_time"])
    op.create_index("ix_flow_runs_start_time", "flow_runs", ["start_time"])
    op.create_index("ix_flow_runs_state", "flow_runs", ["state"])
    op.create_index("ix_flow_runs_parent", "flow_runs", ["parent_flow_run_id"])


def _task_runs() -> None:
    op.create_table(
        "task_runs",
        sa.Column("id", _row_id, primary_key=True, autoincrement=True),
        sa.Column("task_run_id", sa.String(32), nullable=False),
        sa.Column("flow_run_id", sa.String(32), _flow_run_fk(), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("task_key", sa.String(500), nullable=False),
        sa.Column("dynamic_key", sa.String(250), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cache_key", sa.String(512), nullable=True),
        sa.Column("result_ref", sa.String(1024), nullable=True),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("task_run_id", name="uq_task_runs_task_run_id"),
    )
    op.create_index("ix_task_runs_flow_run_start", "task_runs", ["flow_run_id", "start_time"])


def _logs_and_artifacts() -> None:
    op.create_table(
        "flow_logs",
        sa.Column("id", _row_id, primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.String(32), _flow_run_fk(), nullable=False),
        sa.Column("task_run_id", sa.String(32), nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("logger", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_flow_logs_flow_run_timestamp", "flow_logs", ["flow_run_id", "timestamp"])
    op.create_table(
        "flow_artifacts",
        sa.Column("artifact_id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(250), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("flow_run_id", sa.String(32), _flow_run_fk(), nullable=True),
        sa.Column("task_run_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_flow_artifacts_flow_run", "flow_artifacts", ["flow_run_id", "created_time"])
    op.create_index("ix_flow_artifacts_key", "flow_artifacts", ["key", "created_time"])


def _task_cache() -> None:
    op.create_table(
        "task_cache",
        sa.Column("cache_key", sa.String(512), primary_key=True),
        sa.Column("result_ref", sa.String(1024), nullable=False),
        sa.Column("task_key", sa.String(500), nullable=False),
        sa.Column("flow_name", sa.String(250), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_task_cache_flow_name", "task_cache", ["flow_name"])
    op.create_index("ix_task_cache_task_key", "task_cache", ["task_key"])


def downgrade() -> None:
    for table in ("task_cache", "flow_artifacts", "flow_logs", "task_runs", "flow_runs"):
        op.drop_table(table)
