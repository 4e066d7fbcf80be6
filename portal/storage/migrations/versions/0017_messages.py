"""messages

A message from one person to another (``messages``), and its copies, one per messenger it
goes over, each with its status (``message_copies``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = portal.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_messages_recipient_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["users.id"],
            name=op.f("fk_messages_sender_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_recipient_id_created_at", ["recipient_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_messages_sender_id_created_at", ["sender_id", "created_at"], unique=False
        )
    op.create_table(
        "message_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("sender_account_id", sa.Integer(), nullable=True),
        sa.Column("recipient_account_id", sa.Integer(), nullable=True),
        sa.Column("to_handle", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_copies_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_account_id"],
            ["linked_accounts.id"],
            name=op.f("fk_message_copies_recipient_account_id_linked_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_account_id"],
            ["linked_accounts.id"],
            name=op.f("fk_message_copies_sender_account_id_linked_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_copies")),
        sa.UniqueConstraint("key", name=op.f("uq_message_copies_key")),
    )
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        for column in ("message_id", "recipient_account_id", "sender_account_id"):
            batch_op.create_index(batch_op.f(f"ix_message_copies_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_copies", schema=None) as batch_op:
        for column in ("message_id", "recipient_account_id", "sender_account_id"):
            batch_op.drop_index(batch_op.f(f"ix_message_copies_{column}"))
    op.drop_table("message_copies")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_sender_id_created_at")
        batch_op.drop_index("ix_messages_recipient_id_created_at")
    op.drop_table("messages")
