"""Usage: the tokens and cost of each reply, and who asked for it.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29

Adds the table ``usage``: one row per reply a provider was asked for (``chat_id``, the
``user_id`` who asked, ``prompt_tokens``/``completion_tokens`` as the endpoint reported them,
``cost`` when it reported one; NULL when it reported nothing), indexed for a user's and a chat's
totals since a time. Kept apart from ``messages`` so that ``/forget`` (which deletes a chat's
messages) does not reset a user's budget. Self-contained like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_usage_user_id_created_at", "usage", ["user_id", "created_at"])
    op.create_index("ix_usage_chat_id_created_at", "usage", ["chat_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_chat_id_created_at", table_name="usage")
    op.drop_index("ix_usage_user_id_created_at", table_name="usage")
    op.drop_table("usage")
