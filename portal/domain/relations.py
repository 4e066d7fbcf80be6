"""Who is who to a viewer: a person found by number among those in one relation with the
viewer (a contact, a request, a block) or among anyone they may look up, and where two people
stand. The rules of those relations are in :mod:`portal.domain.contacts`.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import number as numbers
from portal.domain import privacy
from portal.errors import N_, NotFound
from portal.storage.models import Block, Contact, ContactRequest, User

NOT_YOURS = N_("There is no contact, request or block of yours with this portal number.")
"""Every miss of an action about a relation: the number may be nobody's, hidden, or not in
that relation, and the answer does not tell which."""

State = Literal["self", "contact", "sent", "received", "blocked", "none"]
Among = Literal["anyone", "contact", "sent", "received", "blocked", "contact_or_sent"]
"""Whom an action by number may find: ``anyone`` the viewer has to do with or may look up,
or only the people in one relation with the viewer."""


async def _user_by_number(session: AsyncSession, text: str) -> User | None:
    number = numbers.parse(text)
    found: User | None = await session.scalar(select(User).where(User.number == number))
    return found


async def is_blocked(session: AsyncSession, owner_id: int, blocked_id: int) -> bool:
    found = await session.scalar(
        select(Block.owner_id).where(Block.owner_id == owner_id, Block.blocked_id == blocked_id)
    )
    return found is not None


async def contact_row(session: AsyncSession, owner_id: int, other_id: int) -> Contact | None:
    found: Contact | None = await session.scalar(
        select(Contact).where(Contact.owner_id == owner_id, Contact.other_id == other_id)
    )
    return found


async def request_between(
    session: AsyncSession, sender_id: int, recipient_id: int
) -> ContactRequest | None:
    found: ContactRequest | None = await session.scalar(
        select(ContactRequest).where(
            ContactRequest.sender_id == sender_id, ContactRequest.recipient_id == recipient_id
        )
    )
    return found


async def person(session: AsyncSession, viewer: User, text: str) -> User:
    """Someone the viewer has to do with, by number: a contact, someone who asked them or
    whom they asked, someone they blocked, or a number they may look up. Any other number
    answers like one nobody has."""
    other = await _user_by_number(session, text)
    if other is not None and other.id != viewer.id:
        known = await session.scalar(
            select(func.count()).select_from(
                select(Contact.id)
                .where(Contact.owner_id == viewer.id, Contact.other_id == other.id)
                .union_all(
                    select(ContactRequest.id).where(
                        or_(
                            (ContactRequest.sender_id == viewer.id)
                            & (ContactRequest.recipient_id == other.id),
                            (ContactRequest.sender_id == other.id)
                            & (ContactRequest.recipient_id == viewer.id),
                        )
                    ),
                    select(Block.owner_id).where(
                        Block.owner_id == viewer.id, Block.blocked_id == other.id
                    ),
                )
                .subquery()
            )
        )
        if known:
            return other
    if other is not None and other.id == viewer.id:
        return other
    await privacy.card_for_number(session, viewer, text)  # raises for unknown and hidden ones
    assert other is not None
    return other


async def person_in(session: AsyncSession, viewer: User, text: str, among: Among) -> User:
    """The person behind a number, found only ``among`` those an action is about; any miss
    (nobody has it, it is hidden, they are not in that relation) raises the same error.

    Counted as a lookup by :func:`portal.domain.lookup.person_in`, which every route taking a
    number goes through."""
    if among == "anyone":
        return await person(session, viewer, text)
    other = await _user_by_number(session, text)
    # The same queries run for a number nobody has, against nobody.
    other_id = other.id if other is not None else -1
    if other_id == viewer.id:
        other_id = -1
    found = False
    if among in ("contact", "contact_or_sent"):
        found = await contact_row(session, viewer.id, other_id) is not None
    if among in ("sent", "contact_or_sent") and not found:
        found = await request_between(session, viewer.id, other_id) is not None
    if among == "received":
        found = await received(session, viewer.id, other_id) is not None
    if among == "blocked":
        found = await is_blocked(session, viewer.id, other_id)
    if not found or other is None:
        raise NotFound(NOT_YOURS)
    return other


async def received(
    session: AsyncSession, recipient_id: int, sender_id: int
) -> ContactRequest | None:
    """A request sent to me, unless I blocked its sender (theirs then waits unseen)."""
    if await is_blocked(session, recipient_id, sender_id):
        return None
    return await request_between(session, sender_id, recipient_id)


async def state_with(session: AsyncSession, viewer: User, other: User) -> State:
    """Where the viewer stands with another person, as their buttons show it. That the other
    blocked the viewer is not told: it reads as ``none``."""
    return await state_between(session, viewer.id, other.id)


async def state_between(session: AsyncSession, viewer_id: int, other_id: int) -> State:
    """:func:`state_with`, for people known by their ids."""
    if viewer_id == other_id:
        return "self"
    if await contact_row(session, viewer_id, other_id) is not None:
        return "contact"
    if await is_blocked(session, viewer_id, other_id):
        return "blocked"
    if await request_between(session, viewer_id, other_id) is not None:
        return "sent"
    if await request_between(session, other_id, viewer_id) is not None:
        return "received"
    return "none"
