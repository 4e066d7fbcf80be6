"""feed outside the portal

What lets a person read their unified feed elsewhere and be told of it: the private address
of their feed as Atom and JSON Feed, their Fever API key (each kept as a SHA-256), the hour of
their morning digest and when they last opened their feed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("fever_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("digest_hour", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "digest_sent_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "feed_seen_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_feed_token_hash"), ["feed_token_hash"]
        )
        batch_op.create_unique_constraint(batch_op.f("uq_users_fever_key_hash"), ["fever_key_hash"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_fever_key_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_users_feed_token_hash"), type_="unique")
        batch_op.drop_column("feed_seen_at")
        batch_op.drop_column("digest_sent_at")
        batch_op.drop_column("digest_hour")
        batch_op.drop_column("fever_key_hash")
        batch_op.drop_column("feed_token_hash")
