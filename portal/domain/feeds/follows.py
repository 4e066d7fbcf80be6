"""Following people by number: reading the public feeds of the accounts they show.

A follow names a person, not their feeds. Which feeds it brings is decided each time the
follower reads, by :mod:`portal.domain.privacy` on the tables as they are then: an account the
owner links later is read at once, an account they unlink or narrow to an audience the follower
is not in leaves the follower's feed at once, and an owner who may no longer be found by number
by the follower brings nothing. Nothing is copied when someone follows.

Following finds the person as looking the number up does (:func:`privacy.card_for_number`):
a number nobody has, one its owner hides, and one whose owner blocked the follower all answer
the same :class:`~portal.errors.NotFound`; a mistyped one is refused as mistyped. Blocking
someone ends their follow (:func:`portal.domain.contacts.block`). Routes count each of these
as a lookup (:func:`portal.domain.lookup.follow`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import number as numbers
from portal.domain import privacy
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import Follow, LinkedAccount, User

MAX_FOLLOWS = 5000
NOT_FOLLOWED = N_("You do not follow anyone with this portal number.")
"""Every miss of unfollowing: the number may be nobody's, or not one the viewer follows."""


@dataclass(frozen=True)
class Following:
    """Someone the viewer follows, as the viewer may see them now."""

    card: privacy.Card
    since: datetime


@dataclass(frozen=True)
class Followed:
    following: Following
    created: bool
    """``False`` when the viewer already followed them: following twice is following once."""


async def follow(session: AsyncSession, viewer: User, text: str) -> Followed:
    """``viewer`` follows the person behind the typed number."""
    card = await privacy.card_for_number(session, viewer, text)
    if card.relation is privacy.Relation.BLOCKED:
        raise NotFound(privacy.NO_SUCH_NUMBER)
    if card.relation is privacy.Relation.OWNER:
        raise InvalidInput(
            N_("This is your own number: you read your own accounts already."), field="number"
        )
    kept = await _follow_row(session, viewer.id, card.user_id)
    if kept is not None:
        return Followed(Following(card, kept.created_at), created=False)
    count = await session.scalar(select(func.count()).where(Follow.user_id == viewer.id))
    if (count or 0) >= MAX_FOLLOWS:
        raise Conflict(N_("You can follow at most %(max)d people."), max=MAX_FOLLOWS)
    row = Follow(user_id=viewer.id, owner_id=card.user_id)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same follow, written meanwhile by another request
        kept = await _follow_row(session, viewer.id, card.user_id)
        assert kept is not None
        return Followed(Following(card, kept.created_at), created=False)
    return Followed(Following(card, row.created_at), created=True)


async def unfollow(session: AsyncSession, viewer: User, text: str) -> None:
    """``viewer`` no longer follows the person behind the typed number; a number they do not
    follow (nobody's, or someone else's) answers :data:`NOT_FOLLOWED`."""
    number = numbers.parse(text)
    owner_id = select(User.id).where(User.number == number).scalar_subquery()
    done = await session.execute(
        delete(Follow).where(Follow.user_id == viewer.id, Follow.owner_id == owner_id)
    )
    if not getattr(done, "rowcount", 0):
        raise NotFound(NOT_FOLLOWED)


async def following(session: AsyncSession, viewer: User) -> list[Following]:
    """Everyone ``viewer`` follows, the latest first, each as the viewer may see them now."""
    rows = (
        await session.execute(
            select(User, Follow.created_at)
            .join(Follow, Follow.owner_id == User.id)
            .where(Follow.user_id == viewer.id)
            .order_by(Follow.created_at.desc(), Follow.id.desc())
        )
    ).all()
    cards = await privacy.cards_for(session, viewer, [owner for owner, _ in rows])
    return [Following(card, since) for card, (_, since) in zip(cards, rows, strict=True)]


async def follows(session: AsyncSession, viewer: User, owner_id: int) -> bool:
    """Whether ``viewer`` follows the person whose id is ``owner_id``."""
    return await _follow_row(session, viewer.id, owner_id) is not None


async def _follow_row(session: AsyncSession, user_id: int, owner_id: int) -> Follow | None:
    found: Follow | None = await session.scalar(
        select(Follow).where(Follow.user_id == user_id, Follow.owner_id == owner_id)
    )
    return found


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
