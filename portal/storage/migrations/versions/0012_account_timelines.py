"""account timelines

A linked account's own reading as a source of its owner's feed: a source may belong to one
account (``feed_sources.account_id``: private, never shared, never found by its address), with
the newest item it has seen (``cursor``, a Mastodon status id). A subscription says which
network it shows (``feed_subscriptions.network``, empty for a feed) and, when an account's
follows made it, which account (``via_account_id``), so that an unfollow removes it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cursor", sa.String(length=100), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_feed_sources_account_id"), ["account_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_feed_sources_account_id_linked_accounts"),
            "linked_accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("network", sa.String(length=40), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("via_account_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_feed_subscriptions_via_account_id"), ["via_account_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_feed_subscriptions_via_account_id_linked_accounts"),
            "linked_accounts",
            ["via_account_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_feed_subscriptions_via_account_id_linked_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_feed_subscriptions_via_account_id"))
        batch_op.drop_column("via_account_id")
        batch_op.drop_column("network")
    with op.batch_alter_table("feed_sources", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_feed_sources_account_id_linked_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_feed_sources_account_id"))
        batch_op.drop_column("cursor")
        batch_op.drop_column("account_id")
