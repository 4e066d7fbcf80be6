"""reach

Who may message a person through Portal (``users.messages_from``), and the order of the
messengers they want to be reached on (``linked_accounts.reach_rank``, ``reach_off``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "messages_from", sa.String(length=10), nullable=False, server_default="contacts"
            )
        )
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reach_rank", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reach_off", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_column("reach_off")
        batch_op.drop_column("reach_rank")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("messages_from")
