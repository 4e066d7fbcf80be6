"""messages written by the portal's bot

A copy of a message the portal's own bot writes in the sender's name, not from an account
of theirs (``message_copies.by_bot``): Telegram, where nobody can write as themselves
through an API.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-14
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


def downgrade() -> None:
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        batch_op.drop_column("by_bot")
