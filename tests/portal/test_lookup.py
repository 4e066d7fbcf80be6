"""Looking numbers up: hidden and unknown numbers look alike, numbers can't be walked, and a
lookup costs the same few queries whatever stands behind the number."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.domain import account as accounts
from portal.domain import linking, profile
from portal.domain import number as numbers
from portal.domain.number import AllocationPolicy
from portal.storage.models import Contact, User, utcnow
from tests.fixtures.app import HTML
from tests.portal.doors import DOORS

_CSRF = re.compile(r"[0-9a-f]{64}")
_VARYING = {"date", "set-cookie", "content-length"}


async def _person(db: AsyncSession, name: str = "Ada") -> User:
    user = await accounts.sign_up(
        db,
        email=f"{uuid.uuid4().hex[:10]}@example.org",
        password="correct horse battery",
        display_name=name,
        policy=AllocationPolicy(),
    )
    user.email_confirmed_at = utcnow()
    await db.commit()
    return user


def _unused_number(taken: set[str]) -> str:
    while True:
        number = numbers.generate(8)
        if number not in taken:
            return number


def _comparable(response: httpx.Response, number: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, less what differs on every request (CSRF token, date) and
    the number that was asked for."""
    headers = {k: v for k, v in response.headers.items() if k not in _VARYING}
    body = _CSRF.sub("CSRF", response.text).replace(number, "NUMBER")
    body = body.replace(numbers.display(number), "NUMBER")
    return response.status_code, headers, body


@pytest.fixture
async def hidden(db: AsyncSession) -> dict[str, User]:
    not_by_number = await _person(db, "Hidden by switch")
    await linking.add_handle(db, not_by_number, "github", "hiddenone")
    not_by_number.find_by_number = False
    all_private = await _person(db, "All private")
    await profile.set_privacy(
        db, all_private, audiences=dict.fromkeys(("name", "avatar", "bio", "phone"), "private")
    )
    added = await linking.add_handle(db, all_private, "github", "hiddentwo")
    added.audience = "private"
    await db.commit()
    return {"switch": not_by_number, "private": all_private}


@pytest.mark.parametrize("how", ["switch", "private"])
@pytest.mark.parametrize("path", ["/n/{number}", "/api/v1/numbers/{number}"])
async def test_a_hidden_number_answers_exactly_like_an_unknown_one(client, hidden, how, path):
    owner = hidden[how]
    unknown = _unused_number({owner.number})
    headers = HTML if path.startswith("/n/") else {}
    seen_hidden = await client.get(path.format(number=owner.number), headers=headers)
    seen_unknown = await client.get(path.format(number=unknown), headers=headers)
    assert seen_hidden.status_code == 404
    assert _comparable(seen_hidden, owner.number) == _comparable(seen_unknown, unknown)


async def test_a_contact_finds_a_number_hidden_from_others(app, client, db, hidden):
    owner = hidden["switch"]
    friend = await _person(db, "Friend")
    db.add_all(
        [
            Contact(owner_id=owner.id, other_id=friend.id),
            Contact(owner_id=friend.id, other_id=owner.id),
        ]
    )
    secret = await accounts.start_session(db, friend, days=1)
    await db.commit()
    client.cookies.set("portal_session", secret)
    response = await client.get(f"/api/v1/numbers/{owner.number}")
    assert response.status_code == 200
    assert response.json()["relation"] == "contact"
    assert [a["handle"] for a in response.json()["accounts"]] == ["@hiddenone"]


async def test_a_mistyped_number_says_so(client, db):
    owner = await _person(db)
    typo = owner.number[:-1] + str((int(owner.number[-1]) + 1) % 10)
    response = await client.get(f"/api/v1/numbers/{typo}")
    assert response.status_code == 422
    assert "typo" in response.json()["detail"]


async def test_walking_numbers_is_throttled_long_before_it_ends(client):
    """1,000 random numbers from one client: refused within the first few dozen, with a
    Retry-After; most numbers tried are mistyped or unknown, and misses cost more."""
    answered = 0
    for _ in range(1000):
        response = await client.get(f"/api/v1/numbers/{numbers.generate(8)}")
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            break
        answered += 1
    else:
        pytest.fail("a thousand lookups went through")
    assert answered <= 15, answered


async def test_a_person_looking_up_a_few_numbers_never_notices(client, db):
    people = [await _person(db, f"P{i}") for i in range(8)]
    for person in people:
        assert (await client.get(f"/api/v1/numbers/{person.number}")).status_code == 200
    # A couple of typos along the way.
    for person in people[:2]:
        typo = person.number[:-1] + str((int(person.number[-1]) + 1) % 10)
        assert (await client.get(f"/api/v1/numbers/{typo}")).status_code == 422
    for person in people:
        response = await client.get(f"/n/{person.number}", headers=HTML)
        assert response.status_code == 200, response.status_code


async def _statements(engine: AsyncEngine, client: httpx.AsyncClient, path: str) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    try:
        response = await client.get(path)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counted)
    assert response.status_code == 200, response.text
    return count


async def test_a_lookup_costs_the_same_queries_whatever_the_number_of_accounts(client, db, engine):
    few = await _person(db, "Few")
    await linking.add_handle(db, few, "github", "fewone")
    many = await _person(db, "Many")
    for i in range(40):
        await linking.add_handle(db, many, "github", f"many{i}")
    await db.commit()
    one = await _statements(engine, client, f"/api/v1/numbers/{few.number}")
    forty = await _statements(engine, client, f"/api/v1/numbers/{many.number}")
    assert one == forty
    assert one <= 4, one


# --- every door that takes a number ------------------------------------------------------------


async def _signed_in(app: FastAPI, db: AsyncSession) -> tuple[httpx.AsyncClient, str]:
    """A signed-in browser of someone new, and its CSRF token."""
    viewer = await _person(db, "Viewer")
    secret = await accounts.start_session(db, viewer, days=1)
    await db.commit()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://portal.test",
        cookies={"portal_session": secret},
        follow_redirects=False,
    )
    response = await http.get("/me", headers=HTML)
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, response.text
    return http, match.group(1)


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
async def test_every_door_answers_unknown_hidden_and_unrelated_numbers_alike(app, db, door):
    """A number nobody has, a hidden one and, where the door is about a relation (a contact,
    a request, a block), a visible person without that relation: one answer, word for word."""
    hidden = await _person(db, "Hidden")
    hidden.find_by_number = False
    stranger = await _person(db, "Stranger")
    await db.commit()
    http, csrf = await _signed_in(app, db)
    numbers_asked = [hidden.number, _unused_number({hidden.number, stranger.number})]
    if door.among == "relation":
        numbers_asked.append(stranger.number)
    try:
        answers = [
            _comparable(await door.call(http, number, csrf), number) for number in numbers_asked
        ]
    finally:
        await http.aclose()
    assert answers[0][0] in (404, 200), answers[0]
    assert all(answer == answers[0] for answer in answers), answers


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
async def test_walking_numbers_through_any_door_is_throttled(app, db, door):
    """1,000 random numbers through one door, from one signed-in client: refused with a
    Retry-After within the lookup page's budget."""
    http, csrf = await _signed_in(app, db)
    answered = 0
    try:
        for _ in range(1000):
            response = await door.call(http, numbers.generate(8), csrf)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) > 0
                break
            answered += 1
        else:
            pytest.fail("a thousand numbers went through")
    finally:
        await http.aclose()
    assert answered <= 15, answered
