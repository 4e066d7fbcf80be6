"""feeds

Feed sources, shared by everyone who reads them (with their validators and their health),
their entries, stored once per source, and who reads which source.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("site_url", sa.String(length=2000), nullable=True),
        sa.Column("etag", sa.String(length=1024), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("hint_seconds", sa.Integer(), nullable=True),
        sa.Column("next_poll_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_polled_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_success_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("last_error_params", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_sources")),
        sa.UniqueConstraint("url", name=op.f("uq_feed_sources_url")),
    )
    with op.batch_alter_table("feed_sources", schema=None) as batch_op:
        batch_op.create_index("ix_feed_sources_next_poll_at", ["next_poll_at"], unique=False)

    op.create_table(
        "feed_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.String(length=1000), nullable=True),
        sa.Column("link", sa.String(length=2000), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("image", sa.String(length=2000), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sort_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "first_seen_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["feed_sources.id"],
            name=op.f("fk_feed_entries_source_id_feed_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint("source_id", "key_hash", name=op.f("uq_feed_entries_source_id")),
    )
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feed_entries_source_id_sort_at", ["source_id", "sort_at", "id"], unique=False
        )

    op.create_table(
        "feed_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("folder", sa.String(length=100), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["feed_sources.id"],
            name=op.f("fk_feed_subscriptions_source_id_feed_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feed_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_subscriptions")),
        sa.UniqueConstraint("user_id", "source_id", name=op.f("uq_feed_subscriptions_user_id")),
    )
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_feed_subscriptions_source_id", ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_subscriptions_source_id")

    op.drop_table("feed_subscriptions")
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_entries_source_id_sort_at")

    op.drop_table("feed_entries")
    with op.batch_alter_table("feed_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_sources_next_poll_at")

    op.drop_table("feed_sources")
