"""What a lookup costs the database: one query for a card that is not kept (owner, relation,
accounts and the counter of changes together), whoever looks, and the same one for a number
nobody has or a hidden one; a small one for a kept card, shared by the anonymous lookups that
arrive together. Counted, so that the count cannot grow back unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.config import Settings
from portal.domain import number as numbers
from portal.domain import privacy, profile
from portal.domain.card_cache import CardCache
from portal.errors import NotFound
from portal.storage.models import User
from tests.fixtures.app import make_settings
from tests.portal.domain import people

ACCOUNTS = 12


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limits_enabled=False)


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE", "BEGIN")):  # the tests' own
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _world(db: AsyncSession) -> tuple[User, User, User]:
    owner = await people.person(db, "Ada", bio="Chess.")
    for i in range(ACCOUNTS):
        await people.account(db, owner, "github", f"ada-{i}", audience="members" if i else "public")
    viewer = await people.person(db, "Viewer")
    friend = await people.person(db, "Friend")
    await people.befriend(db, owner, friend)
    await db.commit()
    return owner, viewer, friend


@pytest.mark.parametrize("who", ["anonymous", "member", "contact", "owner"])
async def test_a_card_not_kept_costs_one_query(who, db, engine):
    owner, viewer, friend = await _world(db)
    looker = {"anonymous": None, "member": viewer, "contact": friend, "owner": owner}[who]
    with counted(engine) as statements:
        card = await privacy.card_for_number(db, looker, owner.number)
    assert card.display_name == "Ada"
    assert len(card.accounts) == (1 if who == "anonymous" else ACCOUNTS)
    assert len(statements) == 1, statements


@pytest.mark.parametrize("signed_in", [False, True])
async def test_a_miss_costs_the_same_query_as_a_card(signed_in, db, engine):
    owner, viewer, _ = await _world(db)
    hidden = await people.person(db, "Hidden")
    await profile.set_privacy(db, hidden, find_by={"number": False})
    await db.commit()
    looker = viewer if signed_in else None
    for number in (hidden.number, _unused(owner.number, hidden.number)):
        with counted(engine) as statements, pytest.raises(NotFound):
            await privacy.card_for_number(db, looker, number)
        assert len(statements) == 1, statements


async def test_a_kept_card_costs_one_small_query(db, engine):
    owner, viewer, _ = await _world(db)
    cards = CardCache()
    for looker in (None, viewer):
        await privacy.card_for_number(db, looker, owner.number, cards)
        with counted(engine) as statements:
            kept = await privacy.card_for_number(db, looker, owner.number, cards)
        assert kept is await privacy.card_for_number(db, looker, owner.number, cards)
        assert len(statements) == 1, statements
        assert "linked_accounts" not in statements[0]


@pytest.mark.parametrize("signed_in", [False, True])
async def test_with_cards_kept_a_miss_costs_what_any_card_not_kept_costs(signed_in, db, engine):
    """A card kept for someone else does not make the number cheaper or dearer to look up:
    what a lookup costs does not tell a number someone looked up lately from one nobody has."""
    owner, viewer, friend = await _world(db)
    hidden = await people.person(db, "Hidden")
    await profile.set_privacy(db, hidden, find_by={"number": False})
    await db.commit()
    cards = CardCache()
    await privacy.card_for_number(db, friend, owner.number, cards)  # kept for a contact
    looker = viewer if signed_in else None
    shapes = []
    for number in (owner.number, hidden.number, _unused(owner.number, hidden.number)):
        with counted(engine) as statements, contextlib.suppress(NotFound):
            await privacy.card_for_number(db, looker, number, cards)
        shapes.append([statement.split(" FROM ")[0] for statement in statements])
    assert len(shapes[0]) == 2 and shapes[0] == shapes[1] == shapes[2], shapes


async def test_anonymous_lookups_arriving_together_share_the_read_of_a_kept_card(
    db, engine, client: httpx.AsyncClient
):
    owner, _, _ = await _world(db)
    url = f"/api/v1/numbers/{owner.number}"
    first = await client.get(url)
    assert first.status_code == 200
    with counted(engine) as statements:
        answers = await asyncio.gather(*(client.get(url) for _ in range(30)))
    assert {(answer.status_code, answer.content) for answer in answers} == {(200, first.content)}
    # The first one's read, and one read for all those that arrived while it was on its way.
    assert 1 <= len(statements) <= 2, statements
    assert all("linked_accounts" not in statement for statement in statements)


def _unused(*taken: str) -> str:
    """A well-formed number nobody here has."""
    for start in range(1_000_000, 1_000_100):
        digits = str(start)
        number = digits + str(numbers.damm_check_digit(digits))
        if number not in taken:
            return numbers.parse(number)
    raise AssertionError("no free number")
