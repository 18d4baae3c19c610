"""The model registry: registered models, versions, tags, aliases, audit history, events.

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

_row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("registered_models.name", ondelete="CASCADE")


def _version_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], ondelete="CASCADE"
    )


def upgrade() -> None:
    _registered_models()
    _model_versions()
    _aliases()
    _history_and_events()


def _registered_models() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    for column in ("creation_time", "last_update_time"):
        op.create_index(f"ix_registered_models_{column}", "registered_models", [column])
    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(256), _model_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(8000), nullable=False),
    )
    op.create_index("ix_registered_model_tags_key_value", "registered_model_tags", ["key", "value"])


def _model_versions() -> None:
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(256), _model_fk(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("storage_location", sa.String(1024), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("current_stage", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_model_versions_name_stage", "model_versions", ["name", "current_stage", "version"])
    op.create_index("ix_model_versions_stage", "model_versions", ["current_stage"])
    for column in ("run_id", "source", "creation_time"):
        op.create_index(f"ix_model_versions_{column}", "model_versions", [column])
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(8000), nullable=False),
        _version_fk(),
    )
    op.create_index("ix_model_version_tags_key_value", "model_version_tags", ["key", "value"])


def _aliases() -> None:
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("alias", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        _version_fk(),
    )
    op.create_index("ix_model_aliases_name_version", "model_aliases", ["name", "version"])


def _history_and_events() -> None:
    op.create_table(
        "model_history",
        sa.Column("id", _row_id, primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("field", sa.String(250), nullable=True),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_model_history_name", "model_history", ["name", "id"])
    op.create_table(
        "events",
        sa.Column("id", _row_id, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(1024), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_type_id", "events", ["type", "id"])


def downgrade() -> None:
    for table in (
        "events",
        "model_history",
        "model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
