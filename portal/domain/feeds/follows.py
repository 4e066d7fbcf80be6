"""Following people by number: reading the public feeds of the accounts they show.

A follow names a person, not their feeds. Which feeds it brings is decided each time the
follower reads, by :mod:`portal.domain.privacy` on the tables as they are then: an account the
owner links later is read at once, an account they unlink or narrow to an audience the follower
is not in leaves the follower's feed at once, and an owner who may no longer be found by number
by the follower brings nothing. Nothing is copied when someone follows.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, select

from portal.domain import privacy
from portal.storage.models import Follow, LinkedAccount, User


def visible_sources(viewer: User) -> Select[int | None, int, int, str]:
    """The feeds ``viewer`` reads through the people they follow, one row per account:
    ``source_id``, ``owner_id``, ``account_id`` and ``network``. A subquery for the timeline."""
    return (
        select(
            LinkedAccount.feed_source_id.label("source_id"),
            LinkedAccount.user_id.label("owner_id"),
            LinkedAccount.id.label("account_id"),
            LinkedAccount.network.label("network"),
        )
        .join(Follow, Follow.owner_id == LinkedAccount.user_id)
        .join(User, User.id == LinkedAccount.user_id)
        .where(
            and_(
                Follow.user_id == viewer.id,
                LinkedAccount.feed_source_id.is_not(None),
                privacy.sees_sql(viewer, LinkedAccount.audience, LinkedAccount.user_id),
                privacy.found_by_sql("number", viewer),
            )
        )
    )
