"""The contact list is sorted, filtered and paged by the database: every page of it, read in
turn, is the whole list in the order (and with the matches) its cards call for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.domain import contacts
from portal.domain.contacts import Entry
from portal.storage.models import Contact, utcnow
from tests.portal.domain.people import account, befriend, block, person


async def _every_page(db, me, per_page: int = 2, **filters) -> list[Entry]:
    first = await contacts.list_contacts(db, me, per_page=per_page, **filters)
    found = list(first.items)
    for page in range(2, first.pages + 1):
        found += (
            await contacts.list_contacts(db, me, per_page=per_page, page=page, **filters)
        ).items
    assert len(found) == first.total
    return found


def _by_name(entry: Entry) -> tuple[str, str]:
    return ((entry.card.display_name or "").casefold() or "\uffff", entry.card.number)


@pytest.fixture
async def crowd(db):
    me = await person(db, "Me")
    people = {
        "zed": await person(db, "zed"),
        "Ann": await person(db, "Ann"),
        "bob": await person(db, "bob"),
        "Hidden": await person(db, "Aaron", name_audience="private"),
        "Nameless": await person(db, ""),
        "Ben": await person(db, "Ben"),
    }
    await account(db, people["zed"], "mastodon", "zed@example.social")
    await account(db, people["zed"], "matrix", "@zed:example.org")
    await account(db, people["bob"], "github", "bobcodes")
    await account(db, people["Ben"], "github", "secretben", audience="private")
    await account(db, people["Ann"], "matrix", "@ann:example.org", audience="members")
    for other in people.values():
        await befriend(db, me, other)
    rows = (await db.scalars(select(Contact).where(Contact.owner_id == me.id))).all()
    for i, row in enumerate(sorted(rows, key=lambda row: row.other_id)):
        row.created_at = utcnow() - timedelta(days=i)
    await db.flush()
    await contacts.add_tag(db, me, people["bob"], "Work")
    await contacts.add_tag(db, me, people["Ben"], "work")
    await contacts.add_tag(db, me, people["Ann"], "Family")
    return me, people


async def test_pages_follow_each_sort(db, crowd):
    me, people = crowd
    everyone = await _every_page(db, me, per_page=50)
    assert len(everyone) == len(people)
    by_name = await _every_page(db, me)
    assert by_name == sorted(everyone, key=_by_name)
    assert [e.card.display_name for e in by_name] == ["Ann", "Ben", "bob", "zed", None, None]
    recent = await _every_page(db, me, sort="recent")
    assert [e.added_at for e in recent] == sorted((e.added_at for e in everyone), reverse=True)
    networks = await _every_page(db, me, sort="networks")
    shown = sorted(sorted(everyone, key=_by_name), key=lambda e: -len(e.card.accounts))
    assert networks == shown
    assert networks[0].card.number == people["zed"].number


async def test_filters_match_only_what_cards_show(db, crowd):
    me, people = crowd

    async def numbers(**filters) -> list[str]:
        return [entry.card.number for entry in await _every_page(db, me, **filters)]

    assert await numbers(text="aaron") == []  # the name is private
    assert await numbers(text="ZED") == [people["zed"].number]
    assert await numbers(text="example.social") == [people["zed"].number]
    assert await numbers(text="secretben") == []  # a private account
    assert await numbers(text="GitHub") == [people["bob"].number]  # the network's name
    assert await numbers(network="github") == [people["bob"].number]
    assert await numbers(network="matrix") == [people["Ann"].number, people["zed"].number]
    assert await numbers(tag="WORK") == [people["Ben"].number, people["bob"].number]
    assert await numbers(tag="nope") == []
    assert await numbers(tag="work", text="bob") == [people["bob"].number]
    number = people["Nameless"].number
    assert number in await numbers(text=number[2:6])
    spaced = " ".join([number[:3], number[3:6]])
    assert number in await numbers(text=spaced)
    first = await contacts.list_contacts(db, me)
    assert first.tags == ("Family", "Work", "work")
    assert first.networks == (("github", "GitHub"), ("mastodon", "Mastodon"), ("matrix", "Matrix"))


async def test_someone_who_blocked_me_shows_only_public_fields(db, crowd):
    me, people = crowd
    await block(db, people["Ann"], me)  # left as a contact row: the list must still not leak
    assert [e.card.number for e in await _every_page(db, me, network="matrix")] == [
        people["zed"].number
    ]
