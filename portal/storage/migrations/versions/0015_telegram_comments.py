"""telegram comments

Comments on a Telegram channel's posts come as updates to the portal's bot from the channel's
discussion group: how far the bot has read them (``telegram_bots``), which copy of a post each
thread of a discussion group answers (``telegram_threads``), and an index on the copies of a
network by when they went out, where such a thread is matched to its copy.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_bots",
        sa.Column("bot_id", sa.String(length=24), nullable=False),
        sa.Column("next_update", sa.BigInteger(), nullable=True),
        sa.Column("read_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_telegram_bots")),
    )
    op.create_table(
        "telegram_threads",
        sa.Column("group_id", sa.String(length=24), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_telegram_threads_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "thread_id", name=op.f("pk_telegram_threads")),
    )
    with op.batch_alter_table("telegram_threads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telegram_threads_delivery_id"), ["delivery_id"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_network_sent_at", ["network", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_network_sent_at")
    with op.batch_alter_table("telegram_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_threads_delivery_id"))
    op.drop_table("telegram_threads")
    op.drop_table("telegram_bots")
