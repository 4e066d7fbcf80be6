"""The contact list: my contacts as each shows themselves to a contact, with my tags, sorted,
filtered and paged by the database.

Filters and sorts work on what the cards show, so a hidden name or account never makes a
contact match or sorts them: the SQL here asks for what :func:`portal.domain.privacy.card_of`
shows a contact (a field whose audience a contact may see; only the public ones of someone who
blocked the viewer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from portal.domain import privacy, relations
from portal.domain.contacts.requests import NOT_A_CONTACT
from portal.domain.privacy import AUDIENCES, Relation
from portal.errors import InvalidInput, NotFound
from portal.storage.models import Block, Contact, ContactTag, LinkedAccount, User

PER_PAGE = 50
MAX_TEXT = 100

Sort = Literal["name", "recent", "networks"]
SORTS: tuple[Sort, ...] = ("name", "recent", "networks")
_NUMBER_SEPARATORS = str.maketrans("", "", " -.#")


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


def _audiences(relation: Relation) -> list[str]:
    return [audience for audience in AUDIENCES if privacy.may_see(audience, relation)]


def _shown(owner: User, audience: Any) -> ColumnElement[bool]:
    """Whether ``owner``'s contact sees what has ``audience`` (a column of the other person's).

    :func:`portal.domain.privacy.sees_sql` for a viewer known to be a contact: that one asks
    whether the two are contacts in a subquery on ``contacts``, which the list's own join on
    ``contacts`` would correlate away."""
    blocked_me = exists().where(Block.owner_id == User.id, Block.blocked_id == owner.id)
    return or_(
        and_(~blocked_me, audience.in_(_audiences(Relation.CONTACT))),
        audience.in_(_audiences(Relation.BLOCKED)),
    )


def _label(network: str) -> str:
    cls = connectors.get(network)
    return cls.LABEL if cls is not None else network


def _binary(expression: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """Ordered by code point on both databases (SQLite's default, PostgreSQL's "C")."""
    return expression.collate("C") if dialect == "postgresql" else expression


def _text_match(
    owner: User, text: str, networks: tuple[tuple[str, str], ...]
) -> ColumnElement[bool]:
    """Contacts whose shown name, number, or shown account (handle or network) holds ``text``
    (already folded to lower case)."""
    name_shown = _shown(owner, User.name_audience)
    matches: list[ColumnElement[bool]] = [
        and_(name_shown, func.lower(User.display_name).contains(text, autoescape=True))
    ]
    digits = text.translate(_NUMBER_SEPARATORS)
    if digits.isdigit():
        matches.append(User.number.contains(digits, autoescape=True))
    handle = text.removeprefix("@")
    by_label = [network for network, label in networks if text in label.casefold()]
    account = or_(
        func.lower(LinkedAccount.handle).contains(handle, autoescape=True) if handle else false(),
        LinkedAccount.network.in_(by_label),
    )
    matches.append(
        exists().where(
            LinkedAccount.user_id == User.id, _shown(owner, LinkedAccount.audience), account
        )
    )
    return or_(*matches)


async def _filter_lists(
    session: AsyncSession, owner: User
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Every tag I use, and every network my contacts show me, for the filters."""
    tags = await session.scalars(
        select(ContactTag.tag)
        .distinct()
        .join(Contact, Contact.id == ContactTag.contact_id)
        .where(Contact.owner_id == owner.id)
    )
    found = await session.scalars(
        select(LinkedAccount.network)
        .distinct()
        .join(User, User.id == LinkedAccount.user_id)
        .join(Contact, Contact.other_id == User.id)
        .where(Contact.owner_id == owner.id, _shown(owner, LinkedAccount.audience))
    )
    labels = {network: _label(network) for network in found}
    return (
        tuple(sorted(set(tags), key=lambda value: (value.casefold(), value))),
        tuple(sorted(labels.items(), key=lambda pair: (pair[1].casefold(), pair[0]))),
    )


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

    The same seven queries whatever the number of contacts: the filters' tags and networks,
    the count, the page, my tags on it, and its cards (two). Only the page is loaded.
    """
    if sort not in SORTS:
        raise InvalidInput("Sort by one of: %(sorts)s.", field="sort", sorts=", ".join(SORTS))
    per_page = min(max(per_page, 1), 200)
    page = max(page, 1)
    dialect = (await session.connection()).dialect.name
    all_tags, all_networks = await _filter_lists(session, owner)

    where: list[ColumnElement[bool]] = [Contact.owner_id == owner.id]
    if network:
        where.append(
            exists().where(
                LinkedAccount.user_id == User.id,
                LinkedAccount.network == network,
                _shown(owner, LinkedAccount.audience),
            )
        )
    wanted = " ".join(text.split()).casefold()[:MAX_TEXT]
    if wanted:
        where.append(_text_match(owner, wanted, all_networks))
    if tag:
        folded = tag.strip().casefold()
        named = [value for value in all_tags if value.casefold() == folded]
        where.append(exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag.in_(named)))
    listed = select(Contact, User).join(User, User.id == Contact.other_id).where(*where)

    total = await session.scalar(select(func.count()).select_from(listed.subquery())) or 0
    name_shown = and_(_shown(owner, User.name_audience), func.coalesce(User.display_name, "") != "")
    by_name = [
        case((name_shown, 0), else_=1),
        _binary(func.lower(case((name_shown, User.display_name), else_="")), dialect),
        User.number,
    ]
    if sort == "recent":
        order = [Contact.created_at.desc(), *by_name]
    elif sort == "networks":
        shown_accounts = (
            select(func.count())
            .where(LinkedAccount.user_id == User.id, _shown(owner, LinkedAccount.audience))
            .scalar_subquery()
        )
        order = [shown_accounts.desc(), *by_name]
    else:
        order = by_name
    rows = (
        await session.execute(listed.order_by(*order).limit(per_page).offset((page - 1) * per_page))
    ).all()

    tags: dict[int, list[str]] = {row.id: [] for row, _ in rows}
    if rows:
        found = await session.execute(
            select(ContactTag.contact_id, ContactTag.tag)
            .where(ContactTag.contact_id.in_(tags))
            .order_by(ContactTag.tag)
        )
        for contact_id, name in found:
            tags[contact_id].append(name)
    cards = await privacy.cards_for(session, owner, [other for _, other in rows])
    return ContactPage(
        items=[
            Entry(card, row.created_at, tuple(tags[row.id]))
            for (row, _), card in zip(rows, cards, strict=True)
        ],
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
