"""Contacts, invitations and notifications through the JSON API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from portal.domain import notifications
from portal.domain import number as numbers
from portal.storage.models import User
from tests.fixtures.app import api_sign_up, api_token


async def _person(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    email = f"{name.lower()}@example.org"
    body = await api_sign_up(client, email=email, display_name=name)
    token = await api_token(client, email=email)
    return str(body["number"]), {"authorization": f"Bearer {token}"}


@pytest.fixture
async def people(client):
    return [await _person(client, name) for name in ("Ada", "Bob", "Cy")]


async def test_request_accept_list_tags_remove(client, people):
    (ada, as_ada), (bob, as_bob), _ = people
    sent = await client.post(
        "/api/v1/contacts", json={"number": bob, "message": "Hi"}, headers=as_ada
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "pending" and sent.json()["person"]["number"] == bob
    requests = (await client.get("/api/v1/contact-requests", headers=as_bob)).json()
    assert [r["person"]["display_name"] for r in requests["incoming"]] == ["Ada"]
    assert requests["incoming"][0]["message"] == "Hi" and requests["outgoing"] == []

    accepted = await client.post(f"/api/v1/contacts/{ada}/accept", headers=as_bob)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["person"]["number"] == ada
    listing = (await client.get("/api/v1/contacts?sort=recent", headers=as_ada)).json()
    assert [c["person"]["number"] for c in listing["items"]] == [bob] and listing["total"] == 1

    tagged = await client.put(
        f"/api/v1/contacts/{bob}/tags", json={"tags": ["Work", "chess"]}, headers=as_ada
    )
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["Work", "chess"]
    too_many = await client.put(
        f"/api/v1/contacts/{bob}/tags", json={"tags": [str(i) for i in range(21)]}, headers=as_ada
    )
    assert too_many.status_code == 422 and "at most 20" in too_many.json()["detail"]
    by_tag = (await client.get("/api/v1/contacts?tag=work", headers=as_ada)).json()
    assert by_tag["total"] == 1 and by_tag["tags"] == ["chess", "Work"]

    removed = await client.delete(f"/api/v1/contacts/{ada}", headers=as_bob)
    assert removed.status_code == 204
    assert (await client.get("/api/v1/contacts", headers=as_ada)).json()["total"] == 0


async def test_decline_and_withdraw(client, people):
    (ada, as_ada), (bob, as_bob), (cy, as_cy) = people
    await client.post("/api/v1/contacts", json={"number": bob}, headers=as_ada)
    await client.post("/api/v1/contacts", json={"number": cy}, headers=as_ada)
    assert (await client.post(f"/api/v1/contacts/{ada}/decline", headers=as_bob)).status_code == 204
    assert (await client.delete(f"/api/v1/contacts/{cy}", headers=as_ada)).status_code == 204
    assert (await client.get("/api/v1/contact-requests", headers=as_cy)).json()["incoming"] == []
    again = await client.post(f"/api/v1/contacts/{ada}/accept", headers=as_bob)
    assert again.status_code == 404


async def test_block_hides_the_request_path_and_the_card(client, people):
    (ada, as_ada), (bob, as_bob), _ = people
    me = await client.patch("/api/v1/me", json={"bio": "Only for members"}, headers=as_ada)
    assert me.status_code == 200
    await client.post("/api/v1/contacts", json={"number": ada}, headers=as_bob)
    assert (await client.post(f"/api/v1/contacts/{bob}/block", headers=as_ada)).status_code == 204
    blocks = (await client.get("/api/v1/blocks", headers=as_ada)).json()
    assert [b["person"]["number"] for b in blocks] == [bob]
    assert (await client.get("/api/v1/contact-requests", headers=as_ada)).json()["incoming"] == []
    unblocked = await client.delete(f"/api/v1/contacts/{bob}/block", headers=as_ada)
    assert unblocked.status_code == 204
    assert (await client.get("/api/v1/blocks", headers=as_ada)).json() == []


async def test_a_blocked_person_cannot_tell_their_request_is_dropped(client, people):
    """A request to the person who blocked me reads like one to anybody else (pending, and
    waiting in my list); they never see it, and unblocking does not bring it back."""
    (ada, as_ada), (bob, as_bob), (cy, _as_cy) = people
    assert (await client.post(f"/api/v1/contacts/{bob}/block", headers=as_ada)).status_code == 204
    to_ada = await client.post("/api/v1/contacts", json={"number": ada}, headers=as_bob)
    to_cy = await client.post("/api/v1/contacts", json={"number": cy}, headers=as_bob)
    assert to_ada.status_code == to_cy.status_code == 201, to_ada.text
    assert to_ada.json()["status"] == to_cy.json()["status"] == "pending"
    looked_up = await client.get(f"/api/v1/numbers/{ada}", headers=as_bob)
    assert to_ada.json()["person"] == looked_up.json()
    outgoing = (await client.get("/api/v1/contact-requests", headers=as_bob)).json()["outgoing"]
    assert {r["person"]["number"] for r in outgoing} == {ada, cy}

    seen = (await client.get("/api/v1/contact-requests", headers=as_ada)).json()
    assert seen["incoming"] == []
    assert (await client.get("/api/v1/notifications", headers=as_ada)).json()["items"] == []
    accepted = await client.post(f"/api/v1/contacts/{bob}/accept", headers=as_ada)
    assert accepted.status_code == 404
    assert (await client.delete(f"/api/v1/contacts/{bob}/block", headers=as_ada)).status_code == 204
    assert (await client.get("/api/v1/contact-requests", headers=as_ada)).json()["incoming"] == []


async def test_a_number_you_have_nothing_to_do_with_cannot_be_acted_on(client, people, db):
    (ada, _as_ada), _, _ = people
    await db.execute(update(User).where(User.number == ada).values(find_by_number=False))
    await db.commit()
    _, as_eve = await _person(client, "Eve")
    hidden = await client.post(f"/api/v1/contacts/{ada}/block", headers=as_eve)
    assert hidden.status_code == 404


async def test_people_in_a_relation_find_each_other_by_a_hidden_number(client, people, db):
    """Hiding one's number from lookups hides it from strangers, not from a request, a
    contact or a block one already has: each of those is still answered, ended or tagged."""
    (ada, as_ada), (bob, as_bob), (cy, as_cy) = people
    _, as_dee = await _person(client, "Dee")
    _, as_eve = await _person(client, "Eve")
    for number in (bob, cy):
        sent = await client.post("/api/v1/contacts", json={"number": number}, headers=as_ada)
        assert sent.status_code == 201, sent.text
    asked = await client.post("/api/v1/contacts", json={"number": ada}, headers=as_dee)
    assert asked.status_code == 201, asked.text
    assert (await client.post(f"/api/v1/contacts/{ada}/block", headers=as_eve)).status_code == 204
    await db.execute(update(User).where(User.number == ada).values(find_by_number=False))
    await db.commit()
    assert (await client.get(f"/api/v1/numbers/{ada}", headers=as_dee)).status_code == 404

    accepted = await client.post(f"/api/v1/contacts/{ada}/accept", headers=as_bob)
    assert accepted.status_code == 200, accepted.text
    tagged = await client.put(
        f"/api/v1/contacts/{ada}/tags", json={"tags": ["Chess"]}, headers=as_bob
    )
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["Chess"]
    declined = await client.post(f"/api/v1/contacts/{ada}/decline", headers=as_cy)
    withdrawn = await client.delete(f"/api/v1/contacts/{ada}", headers=as_dee)
    unblocked = await client.delete(f"/api/v1/contacts/{ada}/block", headers=as_eve)
    removed = await client.delete(f"/api/v1/contacts/{ada}", headers=as_bob)
    answers = [r.status_code for r in (declined, withdrawn, unblocked, removed)]
    assert answers == [204] * 4, [r.text for r in (declined, withdrawn, unblocked, removed)]
    assert (await client.get("/api/v1/contact-requests", headers=as_ada)).json() == {
        "incoming": [],
        "outgoing": [],
    }
    assert (await client.get("/api/v1/contacts", headers=as_ada)).json()["total"] == 0


async def test_invitations(client, people):
    (ada, as_ada), (_bob, as_bob), (_cy, as_cy) = people
    made = await client.post("/api/v1/invites", headers=as_ada)
    assert made.status_code == 201, made.text
    secret, url = made.json()["secret"], made.json()["url"]
    assert url == f"https://portal.test/i/{secret}"
    assert len((await client.get("/api/v1/invites", headers=as_ada)).json()) == 1
    own = await client.post(f"/api/v1/invites/{secret}/accept", headers=as_ada)
    assert own.status_code == 422 and "your own invitation" in own.json()["detail"]
    used = await client.post(f"/api/v1/invites/{secret}/accept", headers=as_bob)
    assert used.status_code == 200 and used.json()["person"]["number"] == ada
    again = await client.post(f"/api/v1/invites/{secret}/accept", headers=as_cy)
    unknown = await client.post("/api/v1/invites/" + "a" * 32 + "/accept", headers=as_cy)
    assert again.status_code == unknown.status_code == 404
    assert again.json()["detail"] == unknown.json()["detail"]
    assert (await client.get("/api/v1/invites", headers=as_ada)).json() == []
    kinds = [
        n["kind"]
        for n in (await client.get("/api/v1/notifications", headers=as_ada)).json()["items"]
    ]
    assert kinds == [notifications.INVITE_USED]


async def test_notifications_list_and_read(client, people):
    (ada, as_ada), (_bob, as_bob), (_cy, as_cy) = people
    await client.post("/api/v1/contacts", json={"number": ada}, headers=as_bob)
    await client.post("/api/v1/contacts", json={"number": ada}, headers=as_cy)
    found = (await client.get("/api/v1/notifications", headers=as_ada)).json()
    assert found["unread"] == 2
    assert [n["person"]["display_name"] for n in found["items"]] == ["Cy", "Bob"]
    first = found["items"][0]["id"]
    assert (
        await client.post(f"/api/v1/notifications/{first}/read", headers=as_ada)
    ).status_code == 204
    assert (
        await client.post(f"/api/v1/notifications/{first}/read", headers=as_bob)
    ).status_code == 404
    unread = (await client.get("/api/v1/notifications?unread=true", headers=as_ada)).json()
    assert [n["person"]["display_name"] for n in unread["items"]] == ["Bob"]
    assert (await client.post("/api/v1/notifications/read", headers=as_ada)).status_code == 204
    assert (await client.get("/api/v1/notifications", headers=as_ada)).json()["unread"] == 0


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 422, "number"),
        ({"number": ""}, 422, "Enter a portal number"),
        ({"number": "x" * 101}, 422, "number"),
        ({"number": "12a4"}, 422, "only digits"),
        ({"number": "1234", "message": "x" * 301}, 422, "at most 300"),
        ({"number": "1234", "message": "hi\u202e"}, 422, "U+202E"),
        ({"number": "1234", "extra": 1}, 422, "extra"),
    ],
)
async def test_bad_requests_are_refused(client, people, body, status, detail):
    _, as_ada = people[0]
    response = await client.post("/api/v1/contacts", json=body, headers=as_ada)
    assert response.status_code == status, response.text
    assert detail in response.text


async def test_sending_requests_is_rate_limited(client, people):
    _, as_ada = people[0]
    statuses = []
    for i in range(25):
        number = str(2000000 + i)
        number += str(numbers.damm_check_digit(number))
        response = await client.post("/api/v1/contacts", json={"number": number}, headers=as_ada)
        statuses.append(response.status_code)
    assert statuses[0] == 404 and statuses[-1] == 429
