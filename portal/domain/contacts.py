"""Mutual contacts: requests and their answers, blocks, and tags (invitations: ``invites``).

A mutual contact is always two rows, ``a→b`` and ``b→a``, made by :func:`connect` and removed
together. Whatever is shown of a person comes from their card (:mod:`portal.domain.privacy`).
Someone blocked learns nothing from the block: a request to the person who blocked them is
answered as one to anybody else (pending), and the person who blocked them never sees it.

Every action on a person names them by number, and finds them with
:func:`portal.domain.relations.person_in`: in the relation the action is about (a contact, a
request, a block), or anyone the viewer may look up. Whatever the reason nobody is found
(nobody has the number, its owner hides it, or they are not in that relation) the answer is
the same.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import notifications, privacy, relations
from portal.domain.notifications import Mailer
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import (
    Block,
    Contact,
    ContactRequest,
    ContactTag,
    User,
)

MAX_PENDING = 50
"""Requests a person may have waiting for an answer at once."""
MAX_MESSAGE = 300
MAX_TAG = 40
MAX_TAGS = 20
"""Tags on one contact."""
PER_PAGE = 50

NO_REQUEST = N_("There is no such contact request; it may have been answered or withdrawn.")
NOT_A_CONTACT = N_("This person is not one of your contacts.")

Sort = Literal["name", "recent", "networks"]
SORTS: tuple[Sort, ...] = ("name", "recent", "networks")
# Where people find them here still: deps.person_named, invites.
Among = relations.Among
is_blocked = relations.is_blocked


# --- text people type -------------------------------------------------------------------------


def _reject_control(text: str, label: str, field: str, *, newlines: bool = False) -> None:
    for ch in text:
        if newlines and ch == "\n":
            continue
        category = unicodedata.category(ch)
        if category in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"} or (
            category == "Cf" and ch not in "\u200c\u200d"
        ):
            raise InvalidInput(
                "%(label)s contains an invisible or control character (U+%(code)04X); "
                "please remove it.",
                field=field,
                label=label,
                code=ord(ch),
            )


def clean_message(text: str) -> str:
    """The few words that come with a request: optional, up to 300 characters."""
    value = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    _reject_control(value, "The message", "message", newlines=True)
    value = value.strip()
    if len(value) > MAX_MESSAGE:
        raise InvalidInput(
            "A message has at most %(max)d characters.", field="message", max=MAX_MESSAGE
        )
    return value


def clean_tag(text: str) -> str:
    """A tag: one line of 1 to 40 characters."""
    value = unicodedata.normalize("NFC", text)
    _reject_control(value, "The tag", "tag")
    value = " ".join(value.split())
    if not value:
        raise InvalidInput("Enter a tag.", field="tag")
    if len(value) > MAX_TAG:
        raise InvalidInput("A tag has at most %(max)d characters.", field="tag", max=MAX_TAG)
    return value


# --- requests ---------------------------------------------------------------------------------


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


# --- contacts, blocks -------------------------------------------------------------------------


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
    """Block someone: no contact, no requests either way, and they see of me only what
    anybody sees. Blocking twice is the same as once."""
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


# --- the contact list -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One of my contacts: their card as a contact sees it, and what I keep about them."""

    card: privacy.Card
    added_at: datetime
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ContactPage:
    items: list[Entry]
    total: int
    page: int
    pages: int
    tags: tuple[str, ...]
    """Every tag I use, for the filter."""
    networks: tuple[tuple[str, str], ...]
    """Every network my contacts show me, for the filter: its id and the name people know it
    by (``("github", "GitHub")``), in the order of the names."""


def _name_key(entry: Entry) -> tuple[str, str]:
    return ((entry.card.display_name or "").casefold() or "\uffff", entry.card.number)


def _matches(entry: Entry, text: str) -> bool:
    card = entry.card
    haystack = [card.display_name or "", card.number, card.display_number]
    for account in card.accounts:
        haystack += [account.handle, account.label]
    return any(text in value.casefold() for value in haystack)


async def list_contacts(
    session: AsyncSession,
    owner: User,
    *,
    sort: str = "name",
    network: str = "",
    text: str = "",
    tag: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ContactPage:
    """My contacts, as each lets a contact see them, sorted, filtered and one page at a time.

    Four queries whatever the number of contacts: the contacts, my tags on them, and their
    cards (two). Filters work on what the cards show, so a hidden name or account never
    makes a contact match.
    """
    if sort not in SORTS:
        raise InvalidInput("Sort by one of: %(sorts)s.", field="sort", sorts=", ".join(SORTS))
    per_page = min(max(per_page, 1), 200)
    page = max(page, 1)
    rows = (
        await session.execute(
            select(Contact, User)
            .join(User, User.id == Contact.other_id)
            .where(Contact.owner_id == owner.id)
        )
    ).all()
    tags: dict[int, list[str]] = {row.id: [] for row, _ in rows}
    if rows:
        found = await session.execute(
            select(ContactTag.contact_id, ContactTag.tag)
            .join(Contact, Contact.id == ContactTag.contact_id)
            .where(Contact.owner_id == owner.id)
            .order_by(ContactTag.tag)
        )
        for contact_id, name in found:
            tags[contact_id].append(name)
    cards = await privacy.cards_for(session, owner, [other for _, other in rows])
    entries = [
        Entry(card, row.created_at, tuple(tags[row.id]))
        for (row, _), card in zip(rows, cards, strict=True)
    ]
    all_tags = tuple(sorted({t for e in entries for t in e.tags}, key=str.casefold))
    labels = {a.network: a.label for e in entries for a in e.card.accounts}
    all_networks = tuple(sorted(labels.items(), key=lambda pair: (pair[1].casefold(), pair[0])))
    if network:
        entries = [e for e in entries if any(a.network == network for a in e.card.accounts)]
    wanted = " ".join(text.split()).casefold()[:100]
    if wanted:
        entries = [e for e in entries if _matches(e, wanted)]
    if tag:
        folded = tag.strip().casefold()
        entries = [e for e in entries if any(t.casefold() == folded for t in e.tags)]
    entries.sort(key=_name_key)
    if sort == "recent":
        entries.sort(key=lambda e: e.added_at, reverse=True)
    elif sort == "networks":
        entries.sort(key=lambda e: len(e.card.accounts), reverse=True)
    total = len(entries)
    start = (page - 1) * per_page
    return ContactPage(
        items=entries[start : start + per_page],
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
        tags=all_tags,
        networks=all_networks,
    )


async def entry(session: AsyncSession, owner: User, other: User) -> Entry:
    """One of my contacts, with my tags on them."""
    row = await relations.contact_row(session, owner.id, other.id)
    if row is None:
        raise NotFound(NOT_A_CONTACT)
    [card] = await privacy.cards_for(session, owner, [other])
    found = await session.scalars(
        select(ContactTag.tag).where(ContactTag.contact_id == row.id).order_by(ContactTag.tag)
    )
    return Entry(card, row.created_at, tuple(found))


# --- tags -------------------------------------------------------------------------------------


async def _my_contact(session: AsyncSession, owner: User, other: User) -> Contact:
    row = await relations.contact_row(session, owner.id, other.id)
    if row is None:
        raise NotFound(NOT_A_CONTACT)
    return row


async def _tags_of(session: AsyncSession, contact_id: int) -> list[str]:
    return list(
        await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact_id))
    )


async def add_tag(session: AsyncSession, owner: User, other: User, tag: str) -> None:
    """Put a tag of mine on a contact (one already there, in any case, is left as it is)."""
    value = clean_tag(tag)
    row = await _my_contact(session, owner, other)
    present = await _tags_of(session, row.id)
    if any(t.casefold() == value.casefold() for t in present):
        return
    if len(present) >= MAX_TAGS:
        raise InvalidInput("A contact has at most %(max)d tags.", field="tag", max=MAX_TAGS)
    session.add(ContactTag(contact_id=row.id, tag=value))
    await session.flush()


async def remove_tag(session: AsyncSession, owner: User, other: User, tag: str) -> None:
    row = await _my_contact(session, owner, other)
    result = await session.execute(
        delete(ContactTag).where(ContactTag.contact_id == row.id, ContactTag.tag == tag[:100])
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("This contact has no such tag.")
    await session.flush()


async def set_tags(session: AsyncSession, owner: User, other: User, tags: Sequence[str]) -> None:
    """Replace my tags on a contact; all are checked before any is written."""
    row = await _my_contact(session, owner, other)
    values: list[str] = []
    for tag in tags:
        value = clean_tag(tag)
        if not any(v.casefold() == value.casefold() for v in values):
            values.append(value)
    if len(values) > MAX_TAGS:
        raise InvalidInput("A contact has at most %(max)d tags.", field="tags", max=MAX_TAGS)
    await session.execute(delete(ContactTag).where(ContactTag.contact_id == row.id))
    session.add_all(ContactTag(contact_id=row.id, tag=value) for value in values)
    await session.flush()
