"""Conversations: everything two people wrote each other through Portal, in one place.

A conversation with someone holds the messages each wrote the other through Portal and the
answers read back from the messengers the copies went over (``portal.domain.messages
.answers``), each marked with its network, newest last. Opening it marks what the other wrote
as read.

A conversation is found by the other's number. One with a person the viewer has written with
is theirs, whatever that person's card now shows; any other number is looked up as any
lookup is (:func:`portal.domain.privacy.card_for_number`): unknown, hidden and blocked
numbers answer alike. A message from someone the recipient blocked is never shown to them,
nor a message request they declined (``portal.domain.messages.requests``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from portal.db import write_next
from portal.domain import number as numbers
from portal.domain import privacy
from portal.domain.messages.answers import WITHDRAWN
from portal.domain.messages.send import DECLINED, REQUEST, SENT
from portal.errors import N_, NotFound
from portal.storage.messages import Message, MessageAnswer, MessageCopy
from portal.storage.models import Block, User, utcnow
from portal.storage.posts import PostMedia

MAX_ENTRIES = 200
"""The most a conversation shows at once (the newest)."""
MAX_LISTED = 100
"""The most conversations listed (the latest)."""


@dataclass(frozen=True, slots=True)
class Picture:
    """A message's picture as a conversation shows it (served by :func:`picture`)."""

    mime_type: str
    description: str
    """Its alt text; empty where it has none."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing said: a message through Portal, or an answer read from a messenger."""

    kind: Literal["message", "answer"]
    id: str
    mine: bool
    """Written by the viewer."""
    text: str
    at: datetime
    networks: tuple[str, ...]
    """A message: the messengers it reached; an answer: the one it was written on."""
    message_id: str
    """The message it is, or answers."""
    url: str | None = None
    unread: bool = False
    held: bool = False
    """A message request: held until its recipient accepts it."""
    picture: Picture | None = None
    """The picture sent with a message."""


@dataclass(frozen=True)
class Conversation:
    card: privacy.Card
    entries: list[Entry]
    """Oldest first, the newest :data:`MAX_ENTRIES`."""
    request: bool = False
    """The other's messages wait for the viewer to accept or decline them."""


@dataclass(frozen=True)
class Summary:
    card: privacy.Card
    last: Entry
    unread: int
    request: bool = False


def _between(viewer_id: int, other_id: Any) -> ColumnElement[bool]:
    """The messages of two people, either way (``other_id`` an id, or a column that holds
    one); not those the viewer never received."""
    return or_(
        and_(Message.sender_id == viewer_id, Message.recipient_id == other_id),
        and_(Message.sender_id == other_id, Message.recipient_id == viewer_id, _received()),
    )


def _received() -> ColumnElement[bool]:
    """Of the messages to the viewer, those they may see: not from someone they blocked (then
    or since), not a request they declined."""
    blocked = exists().where(
        Block.owner_id == Message.recipient_id, Block.blocked_id == Message.sender_id
    )
    return and_(Message.dropped.is_(False), Message.state != DECLINED, ~blocked)


def _involving(viewer_id: int) -> ColumnElement[bool]:
    return or_(
        Message.sender_id == viewer_id,
        and_(Message.recipient_id == viewer_id, _received()),
    )


async def _other(session: AsyncSession, viewer: User, number: str) -> privacy.Card:
    """The other person of a conversation, by number: one the viewer has written with, or
    anyone they may look up."""
    parsed = numbers.parse(number)
    # One query whether or not anyone has the number: what a miss costs does not tell a
    # number nobody has from one hidden from the viewer.
    other = await session.scalar(
        select(User)
        .where(
            User.number == parsed,
            User.id != viewer.id,
            exists().where(_between(viewer.id, User.id)),
        )
        .limit(1)
    )
    if other is not None:
        [card] = await privacy.cards_for(session, viewer, [other])
        return card
    card = await privacy.card_for_number(session, viewer, parsed)
    if card.relation is privacy.Relation.OWNER:
        raise NotFound(privacy.NO_SUCH_NUMBER)
    return card


async def conversation(session: AsyncSession, viewer: User, number: str) -> Conversation:
    """The conversation of ``viewer`` with the person behind ``number``; what that person
    wrote is marked read, in a transaction of its own."""
    card = await _other(session, viewer, number)
    messages = list(
        await session.scalars(
            select(Message)
            .where(_between(viewer.id, card.user_id))
            .order_by(Message.created_at.desc())
            .limit(MAX_ENTRIES)
        )
    )
    ids = [message.id for message in messages]
    reached: dict[str, list[str]] = defaultdict(list)
    answers: list[tuple[MessageAnswer, str]] = []
    pictures: dict[str, Picture] = {}
    if ids:
        for message_id, network in await session.execute(
            select(MessageCopy.message_id, MessageCopy.network)
            .where(MessageCopy.message_id.in_(ids), MessageCopy.status.in_((SENT, WITHDRAWN)))
            .order_by(MessageCopy.position)
        ):
            reached[message_id].append(network)
        answers = [
            (answer, network)
            for answer, network in (
                await session.execute(
                    select(MessageAnswer, MessageCopy.network)
                    .join(MessageCopy, MessageCopy.id == MessageAnswer.copy_id)
                    .where(MessageAnswer.message_id.in_(ids))
                    .order_by(MessageAnswer.written_at.desc())
                    .limit(MAX_ENTRIES)
                )
            ).all()
        ]
        pictures = {
            message_id: Picture(mime_type, description)
            for message_id, mime_type, description in await session.execute(
                select(PostMedia.message_id, PostMedia.mime_type, PostMedia.description).where(
                    PostMedia.message_id.in_(ids)
                )
            )
            if message_id is not None
        }
    by_id = {message.id: message for message in messages}
    entries = [
        Entry(
            kind="message",
            id=message.id,
            mine=message.sender_id == viewer.id,
            text=message.text,
            at=message.created_at,
            networks=tuple(reached.get(message.id, ())),
            message_id=message.id,
            unread=message.sender_id != viewer.id and message.read_at is None,
            held=message.held,
            picture=pictures.get(message.id),
        )
        for message in messages
    ]
    for answer, network in answers:
        # An answer to a message is written by that message's recipient.
        mine = by_id[answer.message_id].recipient_id == viewer.id
        entries.append(
            Entry(
                kind="answer",
                id=f"a{answer.id}",
                mine=mine,
                text=answer.text,
                at=answer.written_at,
                networks=(network,),
                message_id=answer.message_id,
                url=answer.url,
                unread=not mine and answer.read_at is None,
            )
        )
    entries.sort(key=lambda entry: (entry.at, entry.kind == "answer", entry.id))
    entries = entries[-MAX_ENTRIES:]
    if any(entry.unread for entry in entries):
        # Read, then write: a transaction of its own that begins as a writer.
        await write_next(session)
        await _mark_read(session, viewer, card.user_id)
    request = any(entry.held and not entry.mine for entry in entries)
    return Conversation(card, entries, request=request)


async def picture(session: AsyncSession, viewer: User, message_id: str) -> PostMedia:
    """The picture of a message, for its sender or its recipient (one they may see); for
    anyone else, and a message without one, not found."""
    media = (
        await session.scalar(
            select(PostMedia)
            .join(Message, Message.id == PostMedia.message_id)
            .where(Message.id == message_id, _involving(viewer.id))
            .limit(1)
        )
        if 0 < len(message_id) <= 24
        else None
    )
    if media is None:
        raise NotFound(N_("This picture does not exist."))
    return media


async def _mark_read(session: AsyncSession, viewer: User, other_id: int) -> None:
    """All the other's words to the viewer read: their messages, and their answers to the
    viewer's (those of messages older than the page shows too, which it never shows unread)."""
    now = utcnow()
    await session.execute(
        update(Message)
        .where(
            Message.sender_id == other_id,
            Message.recipient_id == viewer.id,
            Message.read_at.is_(None),
        )
        .values(read_at=now)
    )
    mine = select(Message.id).where(
        Message.sender_id == viewer.id, Message.recipient_id == other_id
    )
    await session.execute(
        update(MessageAnswer)
        .where(MessageAnswer.message_id.in_(mine), MessageAnswer.read_at.is_(None))
        .values(read_at=now)
    )


async def conversations(session: AsyncSession, viewer: User) -> list[Summary]:
    """The viewer's conversations, the latest first: each with its last word and how many
    of the other's are unread. Six queries, whatever their number, and those of their cards."""
    other = case((Message.sender_id == viewer.id, Message.recipient_id), else_=Message.sender_id)
    theirs_unread: Any = and_(Message.recipient_id == viewer.id, Message.read_at.is_(None))
    asking: Any = and_(Message.recipient_id == viewer.id, Message.state == REQUEST)
    said = select(
        other.label("other"),
        Message.created_at.label("at"),
        case((theirs_unread, 1), else_=0).label("unread"),
        case((asking, 1), else_=0).label("asking"),
    ).where(_involving(viewer.id))
    answered = (
        select(
            other.label("other"),
            MessageAnswer.written_at.label("at"),
            case(
                (and_(Message.sender_id == viewer.id, MessageAnswer.read_at.is_(None)), 1),
                else_=0,
            ).label("unread"),
            literal(0).label("asking"),
        )
        .join(Message, Message.id == MessageAnswer.message_id)
        .where(_involving(viewer.id))
    )
    every = union_all(said, answered).subquery()
    latest = (
        await session.execute(
            select(
                every.c.other,
                func.max(every.c.at),
                func.sum(every.c.unread),
                func.max(every.c.asking),
            )
            .group_by(every.c.other)
            .order_by(func.max(every.c.at).desc())
            .limit(MAX_LISTED)
        )
    ).all()
    if not latest:
        return []
    people = {
        user.id: user
        for user in await session.scalars(select(User).where(User.id.in_([r[0] for r in latest])))
    }
    owners = [people[row[0]] for row in latest if row[0] in people]
    cards = {card.user_id: card for card in await privacy.cards_for(session, viewer, owners)}
    lasts = await _last_words(session, viewer, [row[0] for row in latest])
    return [
        Summary(cards[other_id], lasts[other_id], int(unread or 0), bool(asking))
        for other_id, _, unread, asking in latest
        if other_id in cards and other_id in lasts
    ]


async def _last_words(session: AsyncSession, viewer: User, others: list[int]) -> dict[int, Entry]:
    """The last thing said in each of the viewer's conversations with ``others``: the last
    message each way and the last answer, the latest of them."""
    found: dict[int, Entry] = {}

    def keep(other_id: int, entry: Entry) -> None:
        if other_id not in found or entry.at > found[other_id].at:
            found[other_id] = entry

    other = case((Message.sender_id == viewer.id, Message.recipient_id), else_=Message.sender_id)
    ranked = (
        select(
            Message,
            other.label("other"),
            func.row_number()
            .over(partition_by=other, order_by=Message.created_at.desc())
            .label("rank"),
        )
        .where(_involving(viewer.id), other.in_(others))
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                ranked.c.id,
                ranked.c.sender_id,
                ranked.c.text,
                ranked.c.created_at,
                ranked.c.read_at,
                ranked.c.state,
                ranked.c.other,
            ).where(ranked.c.rank == 1)
        )
    ).all()
    reached: dict[str, list[str]] = defaultdict(list)
    for message_id, network in await session.execute(
        select(MessageCopy.message_id, MessageCopy.network)
        .where(
            MessageCopy.message_id.in_([row[0] for row in rows]),
            MessageCopy.status.in_((SENT, WITHDRAWN)),
        )
        .order_by(MessageCopy.position)
    ):
        reached[message_id].append(network)
    for message_id, sender_id, text, at, read_at, state, other_id in rows:
        mine = sender_id == viewer.id
        entry = Entry(
            "message",
            message_id,
            mine,
            text,
            at,
            tuple(reached.get(message_id, ())),
            message_id,
            unread=not mine and read_at is None,
            held=state != "",
        )
        keep(other_id, entry)
    answer_rank = (
        select(
            MessageAnswer.id,
            MessageAnswer.message_id,
            MessageAnswer.text,
            MessageAnswer.written_at,
            MessageCopy.network,
            Message.recipient_id,
            other.label("other"),
            func.row_number()
            .over(partition_by=other, order_by=MessageAnswer.written_at.desc())
            .label("rank"),
        )
        .join(Message, Message.id == MessageAnswer.message_id)
        .join(MessageCopy, MessageCopy.id == MessageAnswer.copy_id)
        .where(_involving(viewer.id), other.in_(others))
        .subquery()
    )
    answered = await session.execute(
        select(
            answer_rank.c.id,
            answer_rank.c.message_id,
            answer_rank.c.text,
            answer_rank.c.written_at,
            answer_rank.c.network,
            answer_rank.c.recipient_id,
            answer_rank.c.other,
        ).where(answer_rank.c.rank == 1)
    )
    for answer_id, message_id, text, at, network, recipient_id, other_id in answered:
        entry = Entry(
            "answer", f"a{answer_id}", recipient_id == viewer.id, text, at, (network,), message_id
        )
        keep(other_id, entry)
    return found
