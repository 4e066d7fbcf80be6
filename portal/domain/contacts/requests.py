"""Contact requests: asking, answering and withdrawing, and the two rows a mutual contact is
made of (:func:`connect`). A request from someone the recipient blocked waits unseen."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import notifications, privacy, relations
from portal.domain.notifications import Mailer
from portal.domain.text import reject_invisible
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import Block, Contact, ContactRequest, User

MAX_PENDING = 50
"""Requests a person may have waiting for an answer at once."""
MAX_MESSAGE = 300

NO_REQUEST = N_("There is no such contact request; it may have been answered or withdrawn.")
NOT_A_CONTACT = N_("This person is not one of your contacts.")


def clean_message(text: str) -> str:
    """The few words that come with a request: optional, up to 300 characters."""
    value = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    reject_invisible(value, "The message", "message", newlines=True)
    value = value.strip()
    if len(value) > MAX_MESSAGE:
        raise InvalidInput(
            "A message has at most %(max)d characters.", field="message", max=MAX_MESSAGE
        )
    return value


@dataclass(frozen=True)
class Sent:
    """What became of a request: waiting for an answer, or contacts at once (they had asked
    too)."""

    status: Literal["pending", "contacts"]
    other: User
    request: ContactRequest | None


async def connect(session: AsyncSession, a: User, b: User) -> tuple[Contact, Contact]:
    """Make two people mutual contacts (both rows); the requests between them are done."""
    if a.id == b.id:
        raise InvalidInput("You cannot be your own contact.")
    rows = []
    for owner, other in ((a, b), (b, a)):
        row = await relations.contact_row(session, owner.id, other.id)
        if row is None:
            row = Contact(owner_id=owner.id, other_id=other.id)
            session.add(row)
        rows.append(row)
    await session.execute(
        delete(ContactRequest).where(
            or_(
                (ContactRequest.sender_id == a.id) & (ContactRequest.recipient_id == b.id),
                (ContactRequest.sender_id == b.id) & (ContactRequest.recipient_id == a.id),
            )
        )
    )
    await session.flush()
    return rows[0], rows[1]


async def request(
    session: AsyncSession,
    sender: User,
    other: User,
    message: str = "",
    *,
    mailer: Mailer | None = None,
) -> Sent:
    """Ask someone to become mutual contacts, with a ``message`` as :func:`clean_message`
    made it (:func:`portal.domain.lookup.ask` finds them by number and checks it first)."""
    [card] = await privacy.cards_for(session, sender, [other])
    # Someone the recipient blocked is answered as anybody else; their request waits unseen.
    unseen = card.relation is privacy.Relation.BLOCKED
    if card.relation is privacy.Relation.OWNER:
        raise InvalidInput("This is your own number.", field="number")
    if card.relation is privacy.Relation.CONTACT:
        raise Conflict("You are already contacts.", field="number")
    if await relations.is_blocked(session, sender.id, other.id):
        raise Conflict("You blocked this person. Unblock them first.", field="number")
    existing = await relations.request_between(session, sender.id, other.id)
    if existing is not None:
        return Sent("pending", other, existing)
    if not unseen and await relations.request_between(session, other.id, sender.id) is not None:
        await connect(session, sender, other)
        await notifications.notify(
            session, other, notifications.CONTACT_ACCEPTED, actor=sender, mailer=mailer
        )
        return Sent("contacts", other, None)
    pending = await session.scalar(
        select(func.count())
        .select_from(ContactRequest)
        .where(ContactRequest.sender_id == sender.id)
    )
    if (pending or 0) >= MAX_PENDING:
        raise Conflict(
            "You have %(max)d requests waiting for an answer. Withdraw some before you send more.",
            field="number",
            max=MAX_PENDING,
        )
    sent = ContactRequest(sender_id=sender.id, recipient_id=other.id, message=message)
    session.add(sent)
    await session.flush()
    if not unseen:
        await notifications.notify(
            session, other, notifications.CONTACT_REQUEST, actor=sender, mailer=mailer
        )
    return Sent("pending", other, sent)


async def _from(session: AsyncSession, recipient: User, sender: User) -> ContactRequest:
    found = await relations.received(session, recipient.id, sender.id)
    if found is None:
        raise NotFound(NO_REQUEST)
    return found


async def accept(
    session: AsyncSession, recipient: User, sender: User, *, mailer: Mailer | None = None
) -> None:
    """Accept the request ``sender`` sent me: we become mutual contacts."""
    await _from(session, recipient, sender)
    await connect(session, recipient, sender)
    await notifications.notify(
        session, sender, notifications.CONTACT_ACCEPTED, actor=recipient, mailer=mailer
    )


async def decline(session: AsyncSession, recipient: User, sender: User) -> None:
    """Turn down the request ``sender`` sent me; they are not told."""
    await session.delete(await _from(session, recipient, sender))
    await session.flush()


async def cancel(session: AsyncSession, sender: User, recipient: User) -> None:
    """Withdraw the request I sent ``recipient``."""
    found = await relations.request_between(session, sender.id, recipient.id)
    if found is None:
        raise NotFound(NO_REQUEST)
    await session.delete(found)
    await session.flush()


@dataclass(frozen=True)
class PendingRequest:
    id: int
    message: str
    created_at: datetime
    card: privacy.Card
    """The other person: the sender of one I received, the recipient of one I sent."""


async def pending_requests(
    session: AsyncSession, user: User, *, incoming: bool
) -> list[PendingRequest]:
    """Requests waiting for an answer, newest first: sent to me, or sent by me."""
    mine = ContactRequest.recipient_id if incoming else ContactRequest.sender_id
    theirs = ContactRequest.sender_id if incoming else ContactRequest.recipient_id
    query = select(ContactRequest, User).join(User, User.id == theirs).where(mine == user.id)
    if incoming:
        # Requests from people I blocked are never shown to me.
        query = query.where(
            ~exists().where(Block.owner_id == user.id, Block.blocked_id == ContactRequest.sender_id)
        )
    rows = (await session.execute(query.order_by(ContactRequest.id.desc()))).all()
    cards = await privacy.cards_for(session, user, [other for _, other in rows])
    return [
        PendingRequest(asked.id, asked.message, asked.created_at, card)
        for (asked, _), card in zip(rows, cards, strict=True)
    ]
