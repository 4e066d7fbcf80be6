"""a message's picture

A message may carry one picture, uploaded as a post's are (``post_media``) and kept with it
by ``post_media.message_id``: a picture goes with one post or one message.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f("ix_post_media_message_id"), ["message_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_post_media_message_id_messages"),
            "messages",
            ["message_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_post_media_message_id_messages"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_post_media_message_id"))
        batch_op.drop_column("message_id")
