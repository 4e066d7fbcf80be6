"""Ending a mutual contact, and blocking: someone blocked has no contact and no request either
way with the person who blocked them, and sees of them only what anybody sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import privacy, relations
from portal.domain.contacts.requests import NOT_A_CONTACT, cancel
from portal.errors import InvalidInput, NotFound
from portal.storage.models import Block, Contact, ContactRequest, ContactTag, Follow, User


async def remove(session: AsyncSession, owner: User, other: User) -> None:
    """End a mutual contact: both rows go, with my tags on it."""
    if await relations.contact_row(session, owner.id, other.id) is None:
        raise NotFound(NOT_A_CONTACT)
    await _disconnect(session, owner.id, other.id)


async def remove_or_cancel(session: AsyncSession, owner: User, other: User) -> None:
    """End a mutual contact, or else withdraw the request I sent them."""
    if await relations.contact_row(session, owner.id, other.id) is None:
        await cancel(session, owner, other)
    else:
        await _disconnect(session, owner.id, other.id)


async def _disconnect(session: AsyncSession, a_id: int, b_id: int) -> None:
    pair = or_(
        (Contact.owner_id == a_id) & (Contact.other_id == b_id),
        (Contact.owner_id == b_id) & (Contact.other_id == a_id),
    )
    ids = select(Contact.id).where(pair)
    await session.execute(delete(ContactTag).where(ContactTag.contact_id.in_(ids)))
    await session.execute(delete(Contact).where(pair))
    await session.flush()


async def block(session: AsyncSession, owner: User, other: User) -> None:
    """Block someone: no contact, no requests either way, no following my number, and they
    see of me only what anybody sees. Blocking twice is the same as once."""
    if owner.id == other.id:
        raise InvalidInput("You cannot block yourself.")
    await _disconnect(session, owner.id, other.id)
    await session.execute(
        delete(ContactRequest).where(
            or_(
                (ContactRequest.sender_id == owner.id) & (ContactRequest.recipient_id == other.id),
                (ContactRequest.sender_id == other.id) & (ContactRequest.recipient_id == owner.id),
            )
        )
    )
    # Nor do they read my feeds by following my number.
    await session.execute(
        delete(Follow).where(Follow.user_id == other.id, Follow.owner_id == owner.id)
    )
    if not await relations.is_blocked(session, owner.id, other.id):
        session.add(Block(owner_id=owner.id, blocked_id=other.id))
    await session.flush()


async def unblock(session: AsyncSession, owner: User, other: User) -> None:
    """Lift a block; nothing else comes back (no contact, and no request: the ones they sent
    while blocked, never seen, go)."""
    result = await session.execute(
        delete(Block).where(Block.owner_id == owner.id, Block.blocked_id == other.id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(relations.NOT_YOURS)
    await session.execute(
        delete(ContactRequest).where(
            ContactRequest.sender_id == other.id, ContactRequest.recipient_id == owner.id
        )
    )
    await session.flush()


@dataclass(frozen=True)
class Blocked:
    card: privacy.Card
    created_at: datetime


async def blocks(session: AsyncSession, owner: User) -> list[Blocked]:
    """The people I blocked, most recent first."""
    rows = (
        await session.execute(
            select(Block, User)
            .join(User, User.id == Block.blocked_id)
            .where(Block.owner_id == owner.id)
            .order_by(Block.created_at.desc(), Block.blocked_id.desc())
        )
    ).all()
    cards = await privacy.cards_for(session, owner, [other for _, other in rows])
    return [Blocked(card, row.created_at) for (row, _), card in zip(rows, cards, strict=True)]
