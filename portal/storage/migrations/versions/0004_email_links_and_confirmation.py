"""email links and confirmation

One table for the links sent by email (confirm an address, reset a password, change the
email), stored only as SHA-256 digests. Existing accounts count as confirmed since they were
created, so nothing changes for them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_links")),
        sa.UniqueConstraint("digest", name=op.f("uq_email_links_digest")),
    )
    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_links_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_confirmed_at",
                portal.storage.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )

    users = sa.table(
        "users",
        sa.column("created_at", portal.storage.models.UTCDateTime(timezone=True)),
        sa.column("email_confirmed_at", portal.storage.models.UTCDateTime(timezone=True)),
    )
    op.execute(users.update().values(email_confirmed_at=users.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_confirmed_at")

    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_links_user_id"))

    op.drop_table("email_links")
