"""Authentication: users, API tokens (sha256 at rest), permissions and the auth settings.

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
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("note", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=True),
        sa.Column("revoked_time", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "permissions",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(256), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
    )
    op.create_index("ix_permissions_user_id", "permissions", ["user_id"])
    op.create_table(
        "auth_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("auth_settings", "permissions", "api_tokens", "users"):
        op.drop_table(table)
