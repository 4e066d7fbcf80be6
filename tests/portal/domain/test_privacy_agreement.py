"""Lookup, search and discovery agree on who is found and what is shown, for every audience ×
every relation of the viewer to the owner × a block in either direction (with and without a
contact under it). The expectations are written out by hand, not computed by privacy.py."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import discovery, linking, privacy, search
from portal.domain.privacy import Card, Relation
from portal.errors import NotFound
from portal.ratelimit import RateLimiter
from portal.storage.models import Block, Contact, User
from tests.portal.domain import people

_phones = itertools.count(31_000_000)
AUDIENCES = ("public", "members", "contacts", "private")

VIEWERS: dict[str, Relation] = {
    "member": Relation.MEMBER,
    "contact": Relation.CONTACT,
    "blocked": Relation.BLOCKED,
    "blocked contact": Relation.BLOCKED,  # the block wins
    "blocker": Relation.MEMBER,  # blocking the owner changes nothing of what one sees
    "blocker contact": Relation.CONTACT,
    "owner": Relation.OWNER,
}
"""Each kind of viewer, and what they are to the owner."""

SEES = {
    Relation.BLOCKED: {"public"},
    Relation.MEMBER: {"public", "members"},
    Relation.CONTACT: {"public", "members", "contacts"},
    Relation.OWNER: {"public", "members", "contacts", "private"},
}
FINDS_BY_NAME_AND_PHONE = {Relation.MEMBER, Relation.CONTACT}
"""Signed-in others; not someone the owner blocked, and nobody themselves."""


@pytest.fixture
async def limiter() -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter("memory://", enabled=False)
    yield limiter
    await limiter.close()


async def _pair(db: AsyncSession, audience: str, kind: str) -> tuple[User, User]:
    owner = await people.person(
        db,
        f"Zorblat {audience}",
        bio="Chess.",
        phone=f"+3906{next(_phones):08d}",
        find_by_phone=True,
        find_by_name=True,
        name_audience=audience,
        bio_audience=audience,
        avatar_audience=audience,
        phone_audience=audience,
    )
    added = await linking.add_handle(db, owner, "github", f"zorblat-{audience}")
    added.audience = audience
    viewer = owner if kind == "owner" else await people.person(db, "Viewer")
    if "contact" in kind:
        db.add_all(
            [
                Contact(owner_id=owner.id, other_id=viewer.id),
                Contact(owner_id=viewer.id, other_id=owner.id),
            ]
        )
    if kind.startswith("blocked"):
        db.add(Block(owner_id=owner.id, blocked_id=viewer.id))
    if kind.startswith("blocker"):
        db.add(Block(owner_id=viewer.id, blocked_id=owner.id))
    await db.flush()
    return owner, viewer


def _expected_fields(card: Card, audience: str, relation: Relation, owner: User) -> None:
    sees = audience in SEES[relation]
    assert card.relation is relation
    assert card.display_name == (owner.display_name if sees else None)
    assert card.bio == ("Chess." if sees else None)
    assert card.phone == (owner.phone if sees else None)
    assert [a.handle for a in card.accounts] == ([f"@zorblat-{audience}"] if sees else [])


@pytest.mark.parametrize("kind", sorted(VIEWERS))
@pytest.mark.parametrize("audience", AUDIENCES)
async def test_lookup_search_and_discovery_agree(audience, kind, db, limiter):
    owner, viewer = await _pair(db, audience, kind)
    relation = VIEWERS[kind]
    sees = audience in SEES[relation]

    try:
        by_number: Card | None = await privacy.card_for_number(db, viewer, owner.number)
    except NotFound:
        by_number = None
    results = await search.search(db, viewer, f"Zorblat {audience}")
    by_name = next((c for c in results.cards if c.user_id == owner.id), None)
    found = await discovery.discover(db, limiter, viewer, [owner.phone or ""])
    by_phone = next((f.card for f in found.found if f.card.user_id == owner.id), None)

    # Found by number whenever something shows; by name when the name shows; by phone
    # whatever shows: by name and by phone only for signed-in others the owner did not block.
    assert (by_number is not None) == (sees or relation is Relation.OWNER)
    assert (by_name is not None) == (sees and relation in FINDS_BY_NAME_AND_PHONE)
    assert (by_phone is not None) == (relation in FINDS_BY_NAME_AND_PHONE)
    cards = [card for card in (by_number, by_name, by_phone) if card is not None]
    for card in cards:
        _expected_fields(card, audience, relation, owner)
    assert all(card == cards[0] for card in cards)


@pytest.mark.parametrize("kind", sorted(VIEWERS))
async def test_each_viewer_is_in_the_relation_the_table_says(kind, db):
    """``privacy.relations`` reads it with ``privacy.relation_sql``, the SQL that search and
    discovery use too: a block by the owner wins over a contact, a block of the owner is
    nothing to what one sees."""
    owner, viewer = await _pair(db, "public", kind)
    relations = await privacy.relations(db, viewer, [owner.id])
    assert relations[owner.id] is VIEWERS[kind]
