"""messages written by the portal's bot

A copy of a message the portal's own bot writes in the sender's name, not from an account
of theirs (``message_copies.by_bot``): Telegram, where nobody can write as themselves
through an API; copies found by where they went and their id there, as the bot's updates
find the copy an answer replies to (``ix_message_copies_thread_remote_id``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("by_bot", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_message_copies_thread_remote_id", ["thread", "remote_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        batch_op.drop_index("ix_message_copies_thread_remote_id")
        batch_op.drop_column("by_bot")
