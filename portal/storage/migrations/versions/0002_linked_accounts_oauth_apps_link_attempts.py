"""linked accounts, oauth apps, link attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_apps")),
        sa.UniqueConstraint(
            "network", "server", "redirect_uri", name=op.f("uq_oauth_apps_network")
        ),
    )
    op.create_table(
        "linked_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("verified_by", sa.String(length=20), nullable=True),
        sa.Column("verified_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column(
            "token_expires_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("problem", sa.String(length=300), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_linked_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linked_accounts")),
        sa.UniqueConstraint(
            "user_id", "network", "handle", name=op.f("uq_linked_accounts_user_id")
        ),
    )
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_linked_accounts_user_id_position", ["user_id", "position"], unique=False
        )

    op.create_table(
        "link_attempts",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("linked_account_id", sa.Integer(), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_account_id"],
            ["linked_accounts.id"],
            name=op.f("fk_link_attempts_linked_account_id_linked_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_link_attempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_link_attempts")),
    )
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_attempts_linked_account_id"), ["linked_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_link_attempts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_attempts_user_id"))
        batch_op.drop_index(batch_op.f("ix_link_attempts_linked_account_id"))

    op.drop_table("link_attempts")
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_linked_accounts_user_id_position")

    op.drop_table("linked_accounts")
    op.drop_table("oauth_apps")
