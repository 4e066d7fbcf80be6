"""posts, deliveries and jobs

Cross-posting: a post (``posts``) with its pictures (``post_media``) and one delivery per
target (``deliveries``: a linked account, and a room or channel where it posts into one), and
the durable queue of background work (``jobs``) that delivers them, leased by the workers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("run_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("leased_until", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("kind", "subject", name=op.f("uq_jobs_kind")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_run_at", ["run_at"], unique=False)

    op.create_table(
        "posts",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_warning", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("publish_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_posts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("destination", sa.String(length=300), nullable=False),
        sa.Column("fit", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=True),
        sa.Column("remote_url", sa.String(length=2000), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("sent_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["linked_accounts.id"],
            name=op.f("fk_deliveries_account_id_linked_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_deliveries_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_deliveries_key")),
        sa.UniqueConstraint(
            "post_id", "account_id", "destination", name=op.f("uq_deliveries_post_id")
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_post_id"), ["post_id"], unique=False)

    op.create_table(
        "post_media",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.String(length=24), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("mime_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("no_description", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_media_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_media_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_media")),
    )
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_media_post_id"), ["post_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_media_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_media_user_id"))
        batch_op.drop_index(batch_op.f("ix_post_media_post_id"))

    op.drop_table("post_media")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_post_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_account_id"))

    op.drop_table("deliveries")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_user_id_created_at")

    op.drop_table("posts")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_run_at")

    op.drop_table("jobs")
