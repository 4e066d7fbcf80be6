"""A kept card never outlives a change: each change of audience, profile, link, contact or block
is seen by the very next lookup, after a lookup that kept the card from before."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.domain import account, card_cache, contacts, linking, profile
from portal.domain.card_cache import CardCache
from portal.domain.privacy import Relation
from portal.storage.models import User
from tests.fixtures.app import make_settings
from tests.portal.domain import people

Change = Callable[[AsyncSession, User, User], Awaitable[object]]
Shown = Callable[[dict[str, Any] | None], object]


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limits_enabled=False)


def _name(card: dict[str, Any] | None) -> object:
    return card and card["display_name"]


def _bio(card: dict[str, Any] | None) -> object:
    return card and card["bio"]


def _handles(card: dict[str, Any] | None) -> object:
    return card and [a["handle"] for a in card["accounts"]]


async def _narrow_account(db: AsyncSession, owner: User, viewer: User) -> None:
    [first] = await linking.list_accounts(db, owner)
    first.audience = "members"


async def _unlink(db: AsyncSession, owner: User, viewer: User) -> None:
    [first] = await linking.list_accounts(db, owner)
    await db.delete(first)


async def _correct_handle(db: AsyncSession, owner: User, viewer: User) -> None:
    [first] = await linking.list_accounts(db, owner)
    await linking.change_handle(db, owner, first.id, "github.com/Ada-Lovelace")


async def _unblock(db: AsyncSession, owner: User, viewer: User) -> None:
    await contacts.unblock(db, owner, viewer)


async def _uncontact(db: AsyncSession, owner: User, viewer: User) -> None:
    await contacts.remove(db, owner, viewer)


async def _nothing(db: AsyncSession, owner: User, viewer: User) -> None:
    pass


# name: (viewer signed in, owner's state before, the change, what is read, before, after)
CASES: dict[str, tuple[bool, Change, Change, Shown, object, object]] = {
    "account audience narrowed": (
        False,
        _nothing,
        _narrow_account,
        _handles,
        ["@ada-gh"],
        [],
    ),
    "name changed": (
        False,
        _nothing,
        lambda db, o, v: profile.update_profile(db, o, display_name="Ada L", bio=None),
        _name,
        "Ada",
        "Ada L",
    ),
    "name audience narrowed": (
        True,
        _nothing,
        lambda db, o, v: profile.set_privacy(db, o, audiences={"name": "contacts"}),
        _name,
        "Ada",
        None,
    ),
    "account linked": (
        False,
        _nothing,
        lambda db, o, v: linking.add_handle(db, o, "github", "ada-two"),
        _handles,
        ["@ada-gh"],
        ["@ada-gh", "@ada-two"],
    ),
    "account unlinked": (True, _nothing, _unlink, _handles, ["@ada-gh"], []),
    "handle corrected": (
        False,
        _nothing,
        _correct_handle,
        _handles,
        ["@ada-gh"],
        ["@ada-lovelace"],
    ),
    "became contacts": (
        True,
        lambda db, o, v: profile.set_privacy(db, o, audiences={"bio": "contacts"}),
        lambda db, o, v: contacts.connect(db, o, v),
        _bio,
        None,
        "Chess.",
    ),
    "contact removed": (
        True,
        lambda db, o, v: _connected_with_contacts_bio(db, o, v),
        _uncontact,
        _bio,
        "Chess.",
        None,
    ),
    "viewer blocked": (
        True,
        lambda db, o, v: profile.set_privacy(db, o, audiences={"name": "members"}),
        lambda db, o, v: contacts.block(db, o, v),
        _name,
        "Ada",
        None,
    ),
    "viewer unblocked": (
        True,
        lambda db, o, v: _blocked_with_members_name(db, o, v),
        _unblock,
        _name,
        None,
        "Ada",
    ),
    "no longer found by number": (
        False,
        _nothing,
        lambda db, o, v: profile.set_privacy(db, o, find_by={"number": False}),
        _name,
        "Ada",
        None,
    ),
}


async def _connected_with_contacts_bio(db: AsyncSession, owner: User, viewer: User) -> None:
    await profile.set_privacy(db, owner, audiences={"bio": "contacts"})
    await contacts.connect(db, owner, viewer)


async def _blocked_with_members_name(db: AsyncSession, owner: User, viewer: User) -> None:
    await profile.set_privacy(db, owner, audiences={"name": "members"})
    await contacts.block(db, owner, viewer)


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_next_lookup_after_a_change_sees_it(
    case, app: FastAPI, client: httpx.AsyncClient, db
):
    signed_in, before_state, change, read, before, after = CASES[case]
    owner = await people.person(db, "Ada", bio="Chess.", find_by_name=True)
    await linking.add_handle(db, owner, "github", "ada-gh")
    viewer = await people.person(db, "Viewer")
    token = (await account.create_token(db, viewer, name="test")).secret
    await before_state(db, owner, viewer)
    await db.commit()
    headers = {"authorization": f"Bearer {token}"} if signed_in else {}

    async def look_up() -> dict[str, Any] | None:
        response = await client.get(f"/api/v1/numbers/{owner.number}", headers=headers)
        assert response.status_code in (200, 404), response.text
        return response.json() if response.status_code == 200 else None

    first = await look_up()
    assert read(first) == before
    if first is not None:
        assert app.state.cards.owner_of(owner.number) == owner.id  # the card is kept
    assert read(await look_up()) == before  # from the kept card
    await change(db, owner, viewer)
    await db.commit()
    assert read(await look_up()) == after


async def test_a_lookup_under_way_keeps_nothing_read_before_a_change(app: FastAPI, client, db):
    """A card read before a change committed is not kept once a lookup saw the change."""
    owner = await people.person(db, "Ada")
    await linking.add_handle(db, owner, "github", "ada-gh")
    await db.commit()
    before = await db.scalar(select(card_cache.GENERATION))
    response = await client.get(f"/api/v1/numbers/{owner.number}")
    assert response.status_code == 200
    cards: CardCache = app.state.cards
    kept = cards.get(owner.number, Relation.ANONYMOUS, before)
    assert kept is not None
    await profile.update_profile(db, owner, display_name="Ada L", bio=None)
    await db.commit()
    after = await db.scalar(select(card_cache.GENERATION))
    assert after == before + 1
    assert cards.get(owner.number, Relation.ANONYMOUS, after) is None  # dropped: it moved
    cards.keep(kept, before)  # the slow lookup comes back with what it read before
    assert cards.get(owner.number, Relation.ANONYMOUS, after) is None


async def test_a_change_rolled_back_counts_nothing(db):
    owner = await people.person(db, "Ada")
    await db.commit()
    before = await db.scalar(select(card_cache.GENERATION))
    await profile.update_profile(db, owner, display_name="Ada L", bio=None)
    await db.rollback()
    assert await db.scalar(select(card_cache.GENERATION)) == before


class _Counter:
    """The counter as a test sees it: reads that wait until the test lets them answer."""

    def __init__(self) -> None:
        self.value = 1
        self.reads: list[asyncio.Future[int]] = []

    async def read(self) -> int:
        value = self.value  # what the database holds when the read reaches it
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.reads.append(answer)
        await answer
        return value

    def answer(self, index: int, error: BaseException | None = None) -> None:
        if error is not None:
            self.reads[index].set_exception(error)
        else:
            self.reads[index].set_result(0)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_lookups_arriving_together_share_one_read():
    cards, counter = CardCache(), _Counter()
    first = asyncio.ensure_future(cards.generation(counter.read))
    await _settle()
    # Arrived while the first read is on its way: they wait for the next one, together.
    later = [asyncio.ensure_future(cards.generation(counter.read)) for _ in range(50)]
    await _settle()
    assert len(counter.reads) == 1
    counter.answer(0)
    await _settle()
    assert await first == 1
    assert len(counter.reads) == 2  # sent by one of them once the first was back
    counter.answer(1)
    assert await asyncio.gather(*later) == [1] * 50
    assert len(counter.reads) == 2


async def test_a_lookup_never_gets_a_read_sent_before_it_began():
    """A change committed while a read is on its way is seen by the lookups that began after
    the change: they get the next read, not that one."""
    cards, counter = CardCache(), _Counter()
    early = asyncio.ensure_future(cards.generation(counter.read))
    await _settle()
    counter.value = 2  # a change commits; the read on its way may have missed it
    late = asyncio.ensure_future(cards.generation(counter.read))
    await _settle()
    counter.answer(0)
    await _settle()
    counter.answer(1)
    assert (await early, await late) == (1, 2)


@pytest.mark.parametrize("how", ["cancelled", "failed"])
async def test_when_the_lookup_reading_for_others_goes_they_read_for_themselves(how):
    cards, counter = CardCache(), _Counter()
    busy = asyncio.ensure_future(cards.generation(counter.read))
    await _settle()
    reader = asyncio.ensure_future(cards.generation(counter.read))  # will read for the others
    await _settle()
    others = [asyncio.ensure_future(cards.generation(counter.read)) for _ in range(3)]
    await _settle()
    counter.answer(0)
    await _settle()
    assert len(counter.reads) == 2  # the reader's, on its way
    if how == "cancelled":
        reader.cancel()
    else:
        counter.answer(1, OSError("connection lost"))
    await _settle()
    assert len(counter.reads) == 5  # each of the others, its own
    for index in (2, 3, 4):
        counter.answer(index)
    assert await asyncio.gather(*others) == [1, 1, 1]
    with pytest.raises(asyncio.CancelledError if how == "cancelled" else OSError):
        await reader
    assert await busy == 1
    # Nothing left behind: the next lookup reads at once.
    after = asyncio.ensure_future(cards.generation(counter.read))
    await _settle()
    counter.answer(5)
    assert await after == 1
