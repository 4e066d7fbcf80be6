"""feed reading and follows

What each reader did with each entry (read, starred), people following others by number, the
public feed of a linked account, the feed a notification is about, and full-text search of
entries: an FTS5 table kept by triggers on SQLite, a GIN index on an expression on PostgreSQL (both outside the models, see
``portal.storage.migrate.include_name``). The expression must stay the one
``portal.domain.feeds.read`` searches with, or PostgreSQL will not use the index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_SEARCH = "to_tsvector('simple'::regconfig, left(title || ' ' || text, 200000))"

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE feed_entries_search USING fts5(title, text, content='feed_entries', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER feed_entries_search_insert AFTER INSERT ON feed_entries BEGIN "
    "INSERT INTO feed_entries_search(rowid, title, text) VALUES (new.id, new.title, new.text); "
    "END",
    "CREATE TRIGGER feed_entries_search_delete AFTER DELETE ON feed_entries BEGIN "
    "INSERT INTO feed_entries_search(feed_entries_search, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER feed_entries_search_update AFTER UPDATE OF title, text ON feed_entries BEGIN "
    "INSERT INTO feed_entries_search(feed_entries_search, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO feed_entries_search(rowid, title, text) VALUES (new.id, new.title, new.text); "
    "END",
    "INSERT INTO feed_entries_search(feed_entries_search) VALUES ('rebuild')",
)


def upgrade() -> None:
    op.create_table(
        "feed_entry_states",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("read_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("starred_at", portal.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["feed_entries.id"],
            name=op.f("fk_feed_entry_states_entry_id_feed_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feed_entry_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "entry_id", name=op.f("pk_feed_entry_states")),
    )
    with op.batch_alter_table("feed_entry_states", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feed_entry_states_user_id_starred_at", ["user_id", "starred_at"], unique=False
        )

    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_follows_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_follows_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("user_id", "owner_id", name=op.f("uq_follows_user_id")),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index("ix_follows_owner_id", ["owner_id"], unique=False)

    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.create_index("ix_feed_entries_sort_at", ["sort_at", "id"], unique=False)

    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_source_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_linked_accounts_feed_source_id"), ["feed_source_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_linked_accounts_feed_source_id_feed_sources"),
            "feed_sources",
            ["feed_source_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_source_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_feed_source_id_feed_sources"),
            "feed_sources",
            ["feed_source_id"],
            ["id"],
            ondelete="CASCADE",
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_feed_entries_search ON feed_entries USING gin ({PG_SEARCH})")
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_feed_entries_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER feed_entries_search_{trigger}")
        op.execute("DROP TABLE feed_entries_search")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_feed_source_id_feed_sources"), type_="foreignkey"
        )
        batch_op.drop_column("feed_source_id")
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_linked_accounts_feed_source_id_feed_sources"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_linked_accounts_feed_source_id"))
        batch_op.drop_column("feed_source_id")

    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_entries_sort_at")

    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index("ix_follows_owner_id")

    op.drop_table("follows")
    with op.batch_alter_table("feed_entry_states", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_entry_states_user_id_starred_at")

    op.drop_table("feed_entry_states")
