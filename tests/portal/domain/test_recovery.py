"""Nobody is found before confirming their email address: by number, by phone or by name."""

from __future__ import annotations

import pytest

from portal.domain import discovery, privacy, search
from portal.errors import NotFound
from portal.ratelimit import RateLimiter
from portal.storage.models import utcnow
from tests.portal.domain.people import befriend, person


@pytest.fixture
def limiter():
    return RateLimiter("memory://", enabled=False)


async def test_an_unconfirmed_person_is_found_in_no_way_until_confirmed(db, limiter):
    viewer = await person(db, "Viewer")
    grace = await person(
        db,
        "Grace Hopper",
        phone="+393471234567",
        find_by_phone=True,
        find_by_name=True,
        email_confirmed_at=None,
    )

    with pytest.raises(NotFound):
        await privacy.card_for_number(db, viewer, grace.number)
    with pytest.raises(NotFound):
        await privacy.card_for_number(db, None, grace.number)
    assert (await search.search(db, viewer, "grace")).cards == []
    found = await discovery.discover(db, limiter, viewer, ["+393471234567"])
    assert found.found == []
    # The owner always sees their own card.
    assert (await privacy.card_for_number(db, grace, grace.number)).display_name == "Grace Hopper"

    grace.email_confirmed_at = utcnow()
    await db.flush()
    assert (await privacy.card_for_number(db, viewer, grace.number)).display_name == "Grace Hopper"
    assert [c.display_name for c in (await search.search(db, viewer, "grace")).cards] == [
        "Grace Hopper"
    ]
    found = await discovery.discover(db, limiter, viewer, ["+393471234567"])
    assert [f.card.display_name for f in found.found] == ["Grace Hopper"]


async def test_contacts_still_find_an_unconfirmed_person_by_number(db):
    viewer = await person(db, "Viewer")
    grace = await person(db, "Grace Hopper", email_confirmed_at=None)
    await befriend(db, viewer, grace)
    card = await privacy.card_for_number(db, viewer, grace.number)
    assert card.display_name == "Grace Hopper"
