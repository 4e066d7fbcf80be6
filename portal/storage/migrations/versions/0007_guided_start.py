"""guided start

When each person finished or skipped the guided start that follows signing up. Existing
accounts count as done since they were created, so they are not sent through it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "guide_done_at",
                portal.storage.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )

    users = sa.table(
        "users",
        sa.column("created_at", portal.storage.models.UTCDateTime(timezone=True)),
        sa.column("guide_done_at", portal.storage.models.UTCDateTime(timezone=True)),
    )
    op.execute(users.update().values(guide_done_at=users.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("guide_done_at")
