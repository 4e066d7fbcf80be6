"""message answers and message requests

What the recipient of a message wrote back on the messenger a copy went over
(``message_answers``); where a copy's answers come (``message_copies.thread``); when a
message was first answered and when its recipient saw it (``messages.answered_at``,
``messages.read_at``); a message from someone the recipient blocked
(``messages.dropped``); message requests: a first message held until its recipient
accepts it (``messages.state``), and whose they accepted (``message_senders``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = portal.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("read_at", WHEN, nullable=True))
        batch_op.add_column(
            sa.Column("dropped", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("state", sa.String(length=10), nullable=False, server_default="")
        )
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thread", sa.String(length=500), nullable=False, server_default="")
        )
    op.create_table(
        "message_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("written_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("read_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["copy_id"],
            ["message_copies.id"],
            name=op.f("fk_message_answers_copy_id_message_copies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_answers_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_answers")),
        sa.UniqueConstraint("copy_id", "remote_id", name=op.f("uq_message_answers_copy_id")),
    )
    with op.batch_alter_table("message_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_answers_message_id_written_at", ["message_id", "written_at"], unique=False
        )

    op.create_table(
        "message_senders",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_message_senders_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["users.id"],
            name=op.f("fk_message_senders_sender_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "sender_id", name=op.f("pk_message_senders")),
    )


def downgrade() -> None:
    op.drop_table("message_senders")
    with op.batch_alter_table("message_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_message_answers_message_id_written_at")
    op.drop_table("message_answers")
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        batch_op.drop_column("thread")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("state")
        batch_op.drop_column("dropped")
        batch_op.drop_column("read_at")
        batch_op.drop_column("answered_at")
