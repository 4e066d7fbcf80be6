"""one form for stored emails

Addresses are now kept in one form (NFKC, lower case, IDNA domain in its Unicode form; see
``portal.domain.text.clean_email``). Addresses stored before differ from it only where their
local part holds compatibility characters (fullwidth letters, ligatures, circled digits): this
brings them, and the new addresses of pending email changes, to that form. An address whose
new form already belongs to another account is left as it was and named in the log, since two
accounts cannot be merged here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("portal.migrations")


def _one_form(email: str) -> str:
    """The form of 2026-12 for an address the earlier code had already validated (frozen here:
    the migration must not change when the application's rule does)."""
    local, _, domain = email.rpartition("@")
    return f"{unicodedata.normalize('NFKC', local.lower()).lower()}@{domain.lower()}"


def upgrade() -> None:
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        new = _one_form(email)
        if new == email:
            continue
        if new in taken:
            log.warning("account %s keeps its address: its one form belongs to another", user_id)
            continue
        conn.execute(users.update().where(users.c.id == user_id).values(email=new))
        taken.discard(email)
        taken.add(new)
    links = sa.table("email_links", sa.column("id", sa.Integer), sa.column("new_email", sa.String))
    pending = conn.execute(
        sa.select(links.c.id, links.c.new_email).where(links.c.new_email.is_not(None))
    ).all()
    for link_id, email in pending:
        if _one_form(email) != email:
            conn.execute(
                links.update().where(links.c.id == link_id).values(new_email=_one_form(email))
            )


def downgrade() -> None:
    """The earlier forms are not kept; every address in its one form is valid for them too."""
