"""Who may see what of a person: the one place that decides it.

Every field of a profile (name, picture, bio, phone) and every linked account has an
*audience*:

- ``public``: anyone, signed in or not;
- ``members``: people signed in to this portal;
- ``contacts``: the person's mutual contacts;
- ``private``: the person alone.

What a viewer is to the owner is a :class:`Relation`. Someone the owner blocked is treated as
an anonymous viewer, whatever else they are (a contact too): they see what is public, and they
cannot find the owner by name or by phone, ways open to signed-in people only. The person who
blocked someone is to them a member like any other. This module alone says so, in Python
(:func:`may_see`, :func:`may_find`) and in SQL (:func:`relation_sql`, :func:`sees_sql`,
:func:`found_by_sql`, used by search and discovery), from the same tables.

Pages, the API, vCards, QR codes, search, discovery and the contact button all build what they
show with :func:`card_of` (or :func:`cards_for`, which does the same for many owners in a
constant number of queries): there is no second path to the data.

Finding someone is a separate switch per way: by number, by phone, by name, and nobody is
found in any way before confirming their email address (:func:`findable`, the one rule that
lookup, discovery and search apply). A number whose owner may not be found by number, or whose
card would show nothing at all, answers exactly as a number nobody has (:func:`card_for_number`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import card_cache, linking
from portal.domain import number as numbers
from portal.domain.card_cache import CardCache
from portal.errors import N_, InvalidInput, NotFound
from portal.storage.models import Block, Contact, LinkedAccount, User

PUBLIC = "public"
MEMBERS = "members"
CONTACTS = "contacts"
PRIVATE = "private"
AUDIENCES = (PUBLIC, MEMBERS, CONTACTS, PRIVATE)
"""From the widest to the narrowest."""

FIELDS = ("name", "avatar", "bio", "phone")
"""The profile fields that have an audience of their own (``<field>_audience`` on User)."""

NO_SUCH_NUMBER = N_("No one has this portal number, or its owner does not show it.")


class Relation(StrEnum):
    ANONYMOUS = "anonymous"
    MEMBER = "member"
    CONTACT = "contact"
    BLOCKED = "blocked"
    OWNER = "owner"


_SEES: dict[Relation, frozenset[str]] = {
    Relation.ANONYMOUS: frozenset({PUBLIC}),
    Relation.BLOCKED: frozenset({PUBLIC}),
    Relation.MEMBER: frozenset({PUBLIC, MEMBERS}),
    Relation.CONTACT: frozenset({PUBLIC, MEMBERS, CONTACTS}),
    Relation.OWNER: frozenset(AUDIENCES),
}


FIND_WAYS = ("number", "phone", "name")
"""The ways to find a person, each a switch of its own (``find_by_<way>`` on User)."""

_FINDERS: dict[str, frozenset[Relation]] = {
    "number": frozenset(Relation),
    "phone": frozenset({Relation.MEMBER, Relation.CONTACT}),
    "name": frozenset({Relation.MEMBER, Relation.CONTACT}),
}
"""Who may find a person each way, their switch allowing: by number anyone; by phone and by
name signed-in people (not themselves, and not someone they blocked)."""

_PRECEDENCE = (Relation.OWNER, Relation.BLOCKED, Relation.CONTACT, Relation.MEMBER)
"""A signed-in viewer's relation is the first that holds: a block wins over a contact."""


def findable(way: str) -> ColumnElement[bool]:
    """The owners who may be found ``way`` (number, phone or name): their switch for it is on
    and their email address is confirmed."""
    if way not in FIND_WAYS:
        raise ValueError(way)
    switch: ColumnElement[bool] = getattr(User, f"find_by_{way}").is_(True)
    return and_(switch, User.email_confirmed_at.is_not(None))


def is_findable(owner: User | Row[Any], way: str) -> bool:
    """:func:`findable` for one owner already loaded."""
    if way not in FIND_WAYS:
        raise ValueError(way)
    return bool(getattr(owner, f"find_by_{way}")) and owner.email_confirmed_at is not None


def may_find(owner: User | Row[Any], way: str, relation: Relation) -> bool:
    """Whether a viewer in ``relation`` finds ``owner`` ``way``: when the way is open to them
    (:data:`_FINDERS`; themselves by number only) and the owner allows it, or, by number, when
    they are the owner's contact. By phone, only a verified phone is found."""
    if relation not in _FINDERS[way]:
        return False
    if relation is Relation.OWNER:
        return True
    if way == "phone" and owner.phone_verified_at is None:
        return False
    return is_findable(owner, way) or (way == "number" and relation is Relation.CONTACT)


def _conditions(viewer: User, owner_id: Any) -> dict[Relation, ColumnElement[bool]]:
    """What makes ``viewer`` each relation to the owner whose id is ``owner_id`` (a column)."""
    return {
        Relation.OWNER: owner_id == viewer.id,
        Relation.BLOCKED: exists().where(Block.owner_id == owner_id, Block.blocked_id == viewer.id),
        Relation.CONTACT: exists().where(
            Contact.owner_id == owner_id, Contact.other_id == viewer.id
        ),
        Relation.MEMBER: true(),
    }


def _each(viewer: User | None, owner_id: Any) -> list[tuple[Relation, ColumnElement[bool]]]:
    """Each relation with what makes it the viewer's, none holding together with another."""
    if viewer is None:
        return [(Relation.ANONYMOUS, true())]
    conditions = _conditions(viewer, owner_id)
    each: list[tuple[Relation, ColumnElement[bool]]] = []
    before: list[ColumnElement[bool]] = []
    for relation in _PRECEDENCE:
        each.append((relation, and_(conditions[relation], *(~c for c in before))))
        before.append(conditions[relation])
    return each


def relation_sql(viewer: User | None, owner_id: Any = User.id) -> ColumnElement[str]:
    """:class:`Relation` of ``viewer`` to the owner whose id is ``owner_id``, in SQL."""
    if viewer is None:
        return literal(Relation.ANONYMOUS.value)
    conditions = _conditions(viewer, owner_id)
    return case(
        *((conditions[relation], relation.value) for relation in _PRECEDENCE[:-1]),
        else_=Relation.MEMBER.value,
    )


def sees_sql(viewer: User | None, audience: Any, owner_id: Any = User.id) -> ColumnElement[bool]:
    """:func:`may_see` in SQL: whether ``viewer`` sees what has ``audience`` (a column) of
    the owner whose id is ``owner_id``."""
    return or_(
        *(
            and_(holds, audience.in_(sorted(_SEES[relation])))
            for relation, holds in _each(viewer, owner_id)
        )
    )


def name_sql(viewer: Any) -> ColumnElement[str | None]:
    """The name of the owner in ``User`` as ``viewer`` may see it (NULL when hidden), in SQL;
    ``viewer`` may also be a bound parameter standing for one (anything with an ``id``)."""
    return case((sees_sql(viewer, User.name_audience, User.id), User.display_name), else_=None)


def found_by_sql(way: str, viewer: User | None) -> ColumnElement[bool]:
    """:func:`may_find` in SQL, for the owners in ``User``."""
    if way not in FIND_WAYS:
        raise ValueError(way)
    allowed = findable(way)
    if way == "phone":
        allowed = and_(allowed, User.phone_verified_at.is_not(None))
    cases = []
    for relation, holds in _each(viewer, User.id):
        if relation not in _FINDERS[way]:
            continue
        if relation is Relation.OWNER or (relation is Relation.CONTACT and way == "number"):
            cases.append(holds)
        else:
            cases.append(and_(holds, allowed))
    return or_(*cases) if cases else false()


def may_see(audience: str, relation: Relation) -> bool:
    """Whether a viewer in ``relation`` sees what has ``audience`` (unknown ones: nobody)."""
    return audience in _SEES[relation]


def check_audience(value: str, *, field: str = "audience") -> str:
    """An audience as a person chose it, or a clear error."""
    text = value.strip().lower()
    if text not in AUDIENCES:
        raise InvalidInput(
            "Choose who sees it: %(audiences)s.",
            field=field,
            audiences=", ".join(AUDIENCES),
        )
    return text


async def set_account_audience(
    session: AsyncSession, user: User, account_id: int, audience: str
) -> LinkedAccount:
    """Who sees one of the person's linked accounts behind their number."""
    account = await linking.get_account(session, user, account_id)
    account.audience = check_audience(audience)
    await session.flush()
    return account


@dataclass(frozen=True)
class VisibleAccount:
    id: int
    network: str
    label: str
    handle: str
    """As people write it (``@ada``)."""
    url: str | None
    app_url: str | None
    verified: bool
    verified_by: str | None


@dataclass(frozen=True)
class Card:
    """What one viewer may see of one person."""

    user_id: int
    number: str
    display_number: str
    relation: Relation
    display_name: str | None
    bio: str | None
    avatar_etag: str | None
    phone: str | None
    accounts: tuple[VisibleAccount, ...]

    @property
    def apparent_relation(self) -> Relation:
        """The relation as the viewer may be told it: a blocked person is not told so."""
        return Relation.MEMBER if self.relation is Relation.BLOCKED else self.relation

    @property
    def shows_anything(self) -> bool:
        return bool(
            self.display_name or self.bio or self.avatar_etag or self.phone or self.accounts
        )


def _visible_account(
    account_id: int, network: str, handle: str, status: str, verified_by: str | None
) -> VisibleAccount:
    shown = linking.describe_handle(network, handle)
    verified = status == linking.VERIFIED
    return VisibleAccount(
        id=account_id,
        network=network,
        label=shown["label"],
        handle=shown["handle"],
        url=shown["url"],
        app_url=shown["app"],
        verified=verified,
        verified_by=verified_by if verified else None,
    )


def card_of(owner: User, accounts: Iterable[LinkedAccount], relation: Relation) -> Card:
    """The card ``owner`` shows a viewer in ``relation`` (accounts in the owner's order)."""
    shown = tuple(
        _visible_account(a.id, a.network, a.handle, a.status, a.verified_by)
        for a in sorted(accounts, key=lambda a: (a.position, a.id))
        if may_see(a.audience, relation)
    )
    return _card(owner, shown, relation)


def _card(owner: User | Row[Any], shown: tuple[VisibleAccount, ...], relation: Relation) -> Card:
    """The card of ``owner`` with the accounts ``shown`` (already sorted out, in order)."""

    def field(name: str) -> bool:
        return may_see(getattr(owner, f"{name}_audience"), relation)

    return Card(
        user_id=owner.id,
        number=owner.number,
        display_number=numbers.display(owner.number),
        relation=relation,
        display_name=(owner.display_name or None) if field("name") else None,
        bio=(owner.bio or None) if field("bio") else None,
        avatar_etag=owner.avatar_etag if field("avatar") else None,
        phone=owner.phone if field("phone") and owner.phone_verified_at else None,
        accounts=shown,
    )


async def relations(
    session: AsyncSession, viewer: User | None, owner_ids: Sequence[int]
) -> dict[int, Relation]:
    """What ``viewer`` is to each owner, in one query whatever their number."""
    if viewer is None:
        return dict.fromkeys(owner_ids, Relation.ANONYMOUS)
    found = dict.fromkeys(owner_ids, Relation.MEMBER)
    others = [owner_id for owner_id in owner_ids if owner_id != viewer.id]
    for owner_id in owner_ids:
        if owner_id == viewer.id:
            found[owner_id] = Relation.OWNER
    if not others:
        return found
    stmt = select(User.id, relation_sql(viewer)).where(User.id.in_(others))
    for owner_id, relation in (await session.execute(stmt)).all():
        found[owner_id] = Relation(relation)
    return found


async def cards_for(
    session: AsyncSession, viewer: User | None, owners: Sequence[User]
) -> list[Card]:
    """The cards of several people as ``viewer`` may see them: two queries in all."""
    if not owners:
        return []
    ids = [owner.id for owner in owners]
    found = await relations(session, viewer, ids)
    # Private accounts are never read for anyone but their owner; the rest is sorted out by
    # card_of (one simple query reads faster than one condition per owner).
    hidden = LinkedAccount.audience == PRIVATE
    if viewer is not None:
        hidden = and_(hidden, LinkedAccount.user_id != viewer.id)
    stmt = select(LinkedAccount).where(LinkedAccount.user_id.in_(ids), ~hidden)
    rows = (await session.scalars(stmt)).all()
    by_owner: dict[int, list[LinkedAccount]] = {owner_id: [] for owner_id in ids}
    for account in rows:
        by_owner[account.user_id].append(account)
    return [card_of(owner, by_owner[owner.id], found[owner.id]) for owner in owners]


def _known_relation(viewer: User | None, number: str) -> Relation | None:
    """The relation that needs no query: nobody signed in, or one's own number."""
    if viewer is None:
        return Relation.ANONYMOUS
    return Relation.OWNER if viewer.number == number else None


async def _kept_card(
    session: AsyncSession, viewer: User | None, number: str, cards: CardCache
) -> Card | None:
    """The card ``cards`` keeps of ``number`` for this viewer, after one query that reads the
    database's counter of changes (and the viewer's relation to the owner); a viewer whose
    relation needs no query shares the read with the lookups that arrived with it.

    The query is the same whether or not a card of the number is kept, so that what a miss
    costs does not tell a number someone looked up lately from one nobody has."""
    relation = _known_relation(viewer, number)
    if relation is None:
        assert viewer is not None
        owner = select(User.id).where(User.number == number).scalar_subquery()
        stmt = select(card_cache.GENERATION, relation_sql(viewer, owner))
        generation, in_sql = (await session.execute(stmt)).one()
        relation = Relation(in_sql)
    elif session.in_transaction():
        # Its transaction may have begun before others' lookups did: its reads are its own.
        generation = await _generation(session)
    else:
        generation = await cards.generation(lambda: _generation(session))
    return cards.get(number, relation, generation)


async def _generation(session: AsyncSession) -> int:
    return int(await session.scalar(select(card_cache.GENERATION)) or 0)


async def card_for_number(
    session: AsyncSession, viewer: User | None, text: str, cards: CardCache | None = None
) -> Card:
    """The card behind a typed number, as ``viewer`` may see it: one query; with ``cards``, one
    for a card kept, two for any other (a card not kept, a miss).

    A mistyped number (wrong check digit) is an error of its own. A number nobody has, one
    whose owner is not found by number, and one whose card shows nothing answer the same
    :class:`NotFound`, after the same query. A card shown is kept in ``cards`` (see
    :mod:`portal.domain.card_cache`); a miss never is.
    """
    number = numbers.parse(text)
    if cards is not None and card_cache.wrote_cards(session):
        cards = None
    if cards is not None and (kept := await _kept_card(session, viewer, number, cards)):
        return kept
    rows = (await session.execute(_card_query(viewer), {"number": number})).all()
    if not rows:
        raise NotFound(NO_SUCH_NUMBER)
    owner = rows[0]
    relation = Relation(owner.relation)
    shown = tuple(
        _visible_account(row.account_id, row.network, row.handle, row.status, row.verified_by)
        for row in rows
        if row.account_id is not None and may_see(row.audience, relation)
    )
    card = _card(owner, shown, relation)
    if not may_find(owner, "number", relation) or not (
        card.shows_anything or relation is Relation.OWNER
    ):
        raise NotFound(NO_SUCH_NUMBER)
    if cards is not None:
        cards.keep(card, owner.gen)
    return card


_OWNER_COLUMNS = (
    User.id,
    User.number,
    User.display_name,
    User.bio,
    User.avatar_etag,
    User.phone,
    User.phone_verified_at,
    User.name_audience,
    User.avatar_audience,
    User.bio_audience,
    User.phone_audience,
    User.find_by_number,
    User.email_confirmed_at,
)
_ACCOUNT_COLUMNS = (
    LinkedAccount.id.label("account_id"),
    LinkedAccount.network,
    LinkedAccount.handle,
    LinkedAccount.status,
    LinkedAccount.verified_by,
    LinkedAccount.audience,
)


def _card_query(viewer: User | None) -> Select[*tuple[Any, ...]]:
    """The owner of ``:number``, the viewer's relation to them, the counter of changes, and
    the accounts the viewer might see, in the owner's order: one row per account (or one with
    none). Private accounts are never read but by their owner, and an anonymous viewer's
    only public ones; the rest is sorted out by :func:`may_see`."""
    read: ColumnElement[bool]
    if viewer is None:
        read = LinkedAccount.audience.in_(sorted(_SEES[Relation.ANONYMOUS]))
    else:
        read = or_(LinkedAccount.audience != PRIVATE, User.id == viewer.id)
    return (
        select(
            *_OWNER_COLUMNS,
            relation_sql(viewer).label("relation"),
            card_cache.GENERATION,
            *_ACCOUNT_COLUMNS,
        )
        .outerjoin(LinkedAccount, and_(LinkedAccount.user_id == User.id, read))
        .where(User.number == bindparam("number"))
        .order_by(LinkedAccount.position, LinkedAccount.id)
    )
