"""Reasoning: what a reasoning model thought before its answer, kept apart from the answer.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29

Adds ``messages.reasoning``, nullable text: a reply's reasoning (``reasoning_content``,
``reasoning`` or a ``<think>`` block), shown to chats that ask for it and never sent back to a
model as history. Older rows have none (NULL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reasoning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("reasoning")
