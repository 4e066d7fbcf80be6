"""Contact discovery: the numbers of an address book, against the people who may be found."""

from __future__ import annotations

import logging
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from portal.domain import discovery
from portal.errors import InvalidInput, RateLimited
from portal.ratelimit import RateLimiter
from portal.storage.models import Base, User
from tests.portal.domain.people import (
    QueryCounter,
    account,
    befriend,
    block,
    examples,
    person,
    tricky_inputs,
)


@pytest.fixture
async def limiter():
    """Limits off: these tests upload many small lists."""
    limiter = RateLimiter("memory://", enabled=False)
    yield limiter
    await limiter.close()


@pytest.fixture
async def strict_limiter():
    limiter = RateLimiter("memory://")
    yield limiter
    await limiter.close()


def _found(result: discovery.Discovery) -> dict[str, int]:
    return {found.phone: found.card.user_id for found in result.found}


async def test_every_corpus_number_is_found_when_its_owner_allows(db, limiter):
    """examples.csv: one owner per distinct number, every other one findable by phone; each
    region's numbers uploaded as written there (national format) with that region."""
    owners: dict[str, User] = {}
    for index, example in enumerate(sorted({e.e164 for e in examples()})):
        owners[example] = await person(
            db, f"Owner {index}", phone=example, find_by_phone=index % 2 == 0
        )
    uploader = await person(db, "Uploader")
    by_region: dict[str, list[str]] = defaultdict(list)
    for example in examples():
        by_region[example.region].append(example.raw)
    seen: dict[str, int] = {}
    for region, raws in by_region.items():
        result = await discovery.discover(db, limiter, uploader, raws, region=region)
        assert result.invalid == [], region
        assert result.region == region
        seen.update(_found(result))
    allowed = {phone: owner.id for phone, owner in owners.items() if owner.find_by_phone}
    assert seen == allowed
    assert len(allowed) >= 40


async def test_tricky_inputs_are_found_or_reported(db, limiter):
    rows = tricky_inputs()
    valid = sorted({r["expected_e164"] for r in rows if r["is_valid"] == "True"})
    owners = {phone: await person(db, phone, phone=phone, find_by_phone=True) for phone in valid}
    uploader = await person(db, "Uploader")
    by_region: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_region[row["default_region"]].append(row)
    for region, group in by_region.items():
        inputs = [row["input"] for row in group]
        result = await discovery.discover(db, limiter, uploader, inputs, region=region or None)
        expected_found = {
            r["expected_e164"]: owners[r["expected_e164"]].id
            for r in group
            if r["is_valid"] == "True"
        }
        assert _found(result) == expected_found, region
        invalid = [r["input"] for r in group if r["is_valid"] != "True"]
        assert [bad.input for bad in result.invalid] == invalid
        assert all(bad.reason for bad in result.invalid)
        # The first input of each number is the one reported with it.
        for found in result.found:
            assert found.input in inputs


async def test_nobody_is_found_who_has_not_allowed_it_or_not_verified(db, limiter):
    await person(db, "Hidden", phone="+393471234567", find_by_phone=False)
    await person(db, "Unverified", phone="+393471234568", verified=False, find_by_phone=True)
    uploader = await person(db, "Uploader", region="IT")
    result = await discovery.discover(db, limiter, uploader, ["347 123 4567", "347 123 4568"])
    assert result.found == []
    assert result.checked == 2


async def test_the_uploader_is_never_found(db, limiter):
    uploader = await person(db, "Me", phone="+393471234567", find_by_phone=True)
    result = await discovery.discover(db, limiter, uploader, ["+393471234567"])
    assert result.found == []


async def test_someone_who_blocked_the_uploader_is_not_found(db, limiter):
    uploader = await person(db, "Uploader")
    blocker = await person(db, "Blocker", phone="+393471234567", find_by_phone=True)
    blocked_by_me = await person(db, "Other", phone="+393471234568", find_by_phone=True)
    await block(db, blocker, uploader)
    await block(db, uploader, blocked_by_me)  # my own blocks do not hide people from me
    result = await discovery.discover(db, limiter, uploader, ["+393471234567", "+393471234568"])
    assert _found(result) == {"+393471234568": blocked_by_me.id}


async def test_cards_show_only_what_the_uploader_may_see(db, limiter):
    uploader = await person(db, "Uploader")
    stranger = await person(
        db,
        "Stranger Name",
        phone="+393471234567",
        find_by_phone=True,
        name_audience="contacts",
        bio="Private bio",
        bio_audience="private",
        phone_audience="members",
    )
    await account(db, stranger, "github", "stranger-public")
    await account(db, stranger, "github", "stranger-contacts", audience="contacts")
    friend = await person(
        db, "Friend Name", phone="+393471234568", find_by_phone=True, name_audience="contacts"
    )
    await account(db, friend, "github", "friend-contacts", audience="contacts")
    await befriend(db, uploader, friend)
    result = await discovery.discover(db, limiter, uploader, ["+393471234567", "+393471234568"])
    cards = {found.phone: found.card for found in result.found}
    stranger_card, friend_card = cards["+393471234567"], cards["+393471234568"]
    assert stranger_card.display_name is None
    assert stranger_card.bio is None
    assert stranger_card.phone == "+393471234567"  # shown to members
    assert [a.handle for a in stranger_card.accounts] == ["@stranger-public"]
    assert friend_card.display_name == "Friend Name"
    assert [a.handle for a in friend_card.accounts] == ["@friend-contacts"]


async def test_the_region_comes_from_the_upload_then_the_person_then_their_phone(db, limiter):
    owner = await person(db, "Australian", phone="+61412345678", find_by_phone=True)
    national = ["0412 345 678"]
    by_phone = await person(db, "Aussie", phone="+61400000000")
    result = await discovery.discover(db, limiter, by_phone, national)
    assert (result.region, _found(result)) == ("AU", {"+61412345678": owner.id})

    chosen = await person(db, "Chose GB", region="GB", phone="+61400000001")
    result = await discovery.discover(db, limiter, chosen, national)
    assert result.region == "GB"
    assert result.found == []  # read as a British number, which it is not
    result = await discovery.discover(db, limiter, chosen, national, region="au")
    assert (result.region, _found(result)) == ("AU", {"+61412345678": owner.id})

    nowhere = await person(db, "No region")
    result = await discovery.discover(db, limiter, nowhere, [*national, "+61 412 345 678"])
    assert result.region is None
    assert [bad.input for bad in result.invalid] == national
    assert "country code" in result.invalid[0].reason
    assert _found(result) == {"+61412345678": owner.id}


async def test_an_unknown_region_is_refused(db, limiter):
    uploader = await person(db, "Uploader")
    with pytest.raises(InvalidInput, match="two-letter code"):
        await discovery.discover(db, limiter, uploader, ["+393471234567"], region="XX")


async def test_the_number_of_queries_does_not_grow_with_the_list(db, limiter):
    uploader = await person(db, "Uploader")
    for index in range(30):
        owner = await person(db, f"P{index}", phone=f"+3934712345{index:02d}", find_by_phone=True)
        await account(db, owner, "github", f"p{index}")
    counts = []
    for size in (1, 30):
        numbers = [f"+3934712345{index:02d}" for index in range(size)]
        with QueryCounter(db) as counter:
            result = await discovery.discover(db, limiter, uploader, numbers)
        assert len(result.found) == size
        assert all(len(found.card.accounts) == 1 for found in result.found)
        counts.append(counter.count)
    assert 1 <= counts[0] == counts[1] <= 3


async def test_a_list_is_bounded_per_request_and_per_day(db, strict_limiter):
    limiter = strict_limiter
    uploader = await person(db, "Uploader")
    too_many = [f"+39347{index:07d}" for index in range(discovery.MAX_NUMBERS + 1)]
    with pytest.raises(InvalidInput, match="at most 1000 numbers"):
        await discovery.discover(db, limiter, uploader, too_many)
    with pytest.raises(InvalidInput, match="at least one"):
        await discovery.discover(db, limiter, uploader, [])
    for start in range(5):
        numbers = [f"+39347{start * 1000 + index:07d}" for index in range(1000)]
        await discovery.discover(db, limiter, uploader, numbers)
    with pytest.raises(RateLimited):
        await discovery.discover(db, limiter, uploader, ["+393479999999"])
    other = await person(db, "Other")
    await discovery.discover(db, limiter, other, ["+393479999999"])


async def test_the_list_is_neither_stored_nor_logged(db, limiter, caplog):
    async def rows() -> dict[str, int]:
        counts = {}
        for table in Base.metadata.sorted_tables:
            counts[table.name] = await db.scalar(select(func.count()).select_from(table))
        return counts

    uploader = await person(db, "Uploader", region="IT")
    await person(db, "Owner", phone="+393471234567", find_by_phone=True)
    before = await rows()
    caplog.set_level(logging.DEBUG, logger="portal")
    numbers = ["347 123 4567", "+39 347 765 4321", "not a number"]
    result = await discovery.discover(db, limiter, uploader, numbers)
    assert len(result.found) == 1
    assert await rows() == before
    # Portal's own logs, at every level (a driver's debug log of its queries is not ours).
    ours = [r for r in caplog.records if r.name.startswith("portal")]
    logged = " ".join(f"{r.getMessage()} {r.args}" for r in ours)
    for number in [*numbers, "+393471234567", "+393477654321", "3477654321"]:
        assert number not in logged


# -- what people upload -----------------------------------------------------------------------


def test_pasted_numbers_are_split_by_lines_commas_and_semicolons():
    pasted = "+39 347 123 4567\n0412 345 678, (201) 555-0123;\r\n\n  +44 7400 123456  "
    assert discovery.numbers_from_text(pasted) == [
        "+39 347 123 4567",
        "0412 345 678",
        "(201) 555-0123",
        "+44 7400 123456",
    ]
