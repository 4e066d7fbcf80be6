"""Message requests: the first words of someone who is not one's contact wait for one's yes.

Where a person takes messages from any member (``portal.domain.reach``), a message from
someone who is not their contact is held (:data:`~portal.domain.messages.send.REQUEST`):
the recipient reads it on Portal alone, and accepts or declines. Accepted, the held messages
go out on the recipient's messengers and the sender's next ones go straight on; declined,
they stay held and the sender is not told, as Signal and Instagram do.

Accepting or declining names the sender by number: a number with no request for the viewer
is not found, like one nobody has.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db import upsert
from portal.domain import jobs, privacy, relations
from portal.domain import number as numbers
from portal.domain.messages.send import DECLINED, QUEUED, REQUEST, SEND
from portal.errors import NotFound
from portal.storage.messages import Message, MessageCopy, MessageSender
from portal.storage.models import User, utcnow


async def _requester(session: AsyncSession, viewer: User, number: str) -> User:
    """The person behind ``number`` whose messages wait for the viewer's answer."""
    parsed = numbers.parse(number)
    # One query whether or not anyone has the number, as for a lookup's miss.
    sender = await session.scalar(
        select(User)
        .where(
            User.number == parsed,
            User.id != viewer.id,
            exists().where(
                Message.sender_id == User.id,
                Message.recipient_id == viewer.id,
                Message.state == REQUEST,
                Message.dropped.is_(False),
            ),
        )
        .limit(1)
    )
    if sender is not None and not await relations.is_blocked(session, viewer.id, sender.id):
        return sender
    raise NotFound(privacy.NO_SUCH_NUMBER)


async def accept(session: AsyncSession, viewer: User, number: str) -> User:
    """Accept the messages of the person behind ``number``: those held go out now, the next
    ones straight on. The sender, returned."""
    sender = await _requester(session, viewer, number)
    await session.execute(
        upsert(session)(MessageSender)
        .values(owner_id=viewer.id, sender_id=sender.id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["owner_id", "sender_id"])
    )
    held = list(
        await session.scalars(
            select(Message.id).where(
                Message.sender_id == sender.id,
                Message.recipient_id == viewer.id,
                Message.state == REQUEST,
                Message.dropped.is_(False),
            )
        )
    )
    await session.execute(update(Message).where(Message.id.in_(held)).values(state=""))
    queued = await session.scalars(
        select(MessageCopy.id)
        .where(MessageCopy.message_id.in_(held), MessageCopy.status == QUEUED)
        .order_by(MessageCopy.id)
    )
    for copy_id in queued:
        await jobs.enqueue(session, SEND, str(copy_id))
    return sender


async def decline(session: AsyncSession, viewer: User, number: str) -> User:
    """Decline the messages of the person behind ``number``: they stay held for good, and
    leave the viewer's conversations; the sender is not told. A later message of theirs is
    a request again."""
    sender = await _requester(session, viewer, number)
    await session.execute(
        update(Message)
        .where(
            Message.sender_id == sender.id,
            Message.recipient_id == viewer.id,
            Message.state == REQUEST,
        )
        .values(state=DECLINED)
    )
    return sender
