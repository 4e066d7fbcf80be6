"""answers to posts

The backfeed: what people did with each published copy of a post, read back from its network
(``post_answers``: replies, quotes, reposts, likes), when that was last read
(``deliveries.answers_read_at``), and notifications about a post (``notifications.post_id``,
``notifications.detail``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.String(length=24), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("author_id", sa.String(length=500), nullable=False),
        sa.Column("author_handle", sa.String(length=320), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_url", sa.String(length=2000), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("in_reply_to", sa.String(length=500), nullable=True),
        sa.Column("happened_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_post_answers_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_answers_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_answers")),
        sa.UniqueConstraint(
            "delivery_id", "kind", "remote_id", name=op.f("uq_post_answers_delivery_id")
        ),
    )
    with op.batch_alter_table("post_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_post_answers_post_id_happened_at", ["post_id", "happened_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_post_answers_delivery_id"), ["delivery_id"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "answers_read_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("post_id", sa.String(length=24), nullable=True))
        batch_op.add_column(
            sa.Column("detail", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_post_id_posts"),
            "posts",
            ["post_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notifications_post_id_posts"), type_="foreignkey")
        batch_op.drop_column("detail")
        batch_op.drop_column("post_id")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("answers_read_at")
    with op.batch_alter_table("post_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_answers_delivery_id"))
        batch_op.drop_index("ix_post_answers_post_id_happened_at")
    op.drop_table("post_answers")
