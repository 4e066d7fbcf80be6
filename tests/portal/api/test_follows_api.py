"""Following people by number through the JSON API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from portal.domain import number as numbers
from portal.storage.models import Follow, User
from tests.fixtures.app import api_sign_up, api_token


async def _person(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    email = f"{name.lower()}@example.org"
    body = await api_sign_up(client, email=email, display_name=name)
    token = await api_token(client, email=email)
    return str(body["number"]), {"authorization": f"Bearer {token}"}


@pytest.fixture
async def people(client):
    return [await _person(client, name) for name in ("Ada", "Bob", "Cy")]


def _typed(number: str) -> str:
    """The number as people type it: grouped with spaces and a dash."""
    return f"{number[:3]} {number[3:6]}-{number[6:]}"


async def test_follow_list_and_unfollow(client, people):
    (ada, _), (_, as_bob), (cy, _) = people
    followed = await client.post("/api/v1/follows", json={"number": _typed(ada)}, headers=as_bob)
    assert followed.status_code == 201, followed.text
    assert followed.json()["person"]["number"] == ada
    assert followed.json()["person"]["display_name"] == "Ada"
    again = await client.post("/api/v1/follows", json={"number": ada}, headers=as_bob)
    assert again.status_code == 200 and again.json()["since"] == followed.json()["since"]
    assert (await client.post("/api/v1/follows", json={"number": cy}, headers=as_bob)).is_success

    listed = await client.get("/api/v1/follows", headers=as_bob)
    assert listed.status_code == 200
    assert [f["person"]["number"] for f in listed.json()] == [cy, ada]  # the latest first

    gone = await client.delete(f"/api/v1/follows/{_typed(ada)}", headers=as_bob)
    assert gone.status_code == 204
    listed = await client.get("/api/v1/follows", headers=as_bob)
    assert [f["person"]["number"] for f in listed.json()] == [cy]
    twice = await client.delete(f"/api/v1/follows/{ada}", headers=as_bob)
    assert twice.status_code == 404
    assert "You do not follow anyone with this portal number." in twice.text
    assert twice.headers["content-type"].startswith("application/problem+json")


async def test_following_oneself_is_refused_in_words(client, people):
    (ada, as_ada), _, _ = people
    response = await client.post("/api/v1/follows", json={"number": ada}, headers=as_ada)
    assert response.status_code == 422
    assert "your own number" in response.json()["detail"]
    assert (await client.get("/api/v1/follows", headers=as_ada)).json() == []


async def test_unknown_hidden_and_blocking_numbers_answer_alike(client, people, db):
    (ada, as_ada), (bob, as_bob), (cy, _) = people
    nobody = "1234567"
    nobody += str(numbers.damm_check_digit(nobody))
    assert (await db.scalar(select(User.id).where(User.number == nobody))) is None
    blocked = await client.post(f"/api/v1/contacts/{bob}/block", headers=as_ada)
    assert blocked.status_code == 204
    await db.execute(update(User).where(User.number == cy).values(find_by_number=False))
    await db.commit()

    answers = [
        await client.post("/api/v1/follows", json={"number": number}, headers=as_bob)
        for number in (nobody, cy, ada)
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({(a.text, a.headers["content-type"]) for a in answers}) == 1
    assert (await db.scalar(select(Follow.id))) is None

    mistyped = nobody[:-1] + str((int(nobody[-1]) + 1) % 10)
    wrong = await client.post("/api/v1/follows", json={"number": mistyped}, headers=as_bob)
    assert wrong.status_code == 422 and "has a typo" in wrong.json()["detail"]


async def test_blocking_a_follower_ends_the_follow(client, people):
    (ada, as_ada), (bob, as_bob), _ = people
    assert (await client.post("/api/v1/follows", json={"number": ada}, headers=as_bob)).is_success
    assert (await client.post(f"/api/v1/contacts/{bob}/block", headers=as_ada)).status_code == 204
    assert (await client.get("/api/v1/follows", headers=as_bob)).json() == []
    gone = await client.delete(f"/api/v1/follows/{ada}", headers=as_bob)
    assert gone.status_code == 404


async def test_following_counts_as_a_lookup(client, people):
    _, (_, as_bob), _ = people
    statuses = []
    for i in range(25):
        number = str(3000000 + i)
        number += str(numbers.damm_check_digit(number))
        response = await client.post("/api/v1/follows", json={"number": number}, headers=as_bob)
        statuses.append(response.status_code)
    assert statuses[0] == 404 and statuses[-1] == 429
    assert "retry-after" in {name.lower() for name in response.headers}
    # The same budget as looking numbers up and unfollowing them.
    looked = await client.get(f"/api/v1/numbers/{number}", headers=as_bob)
    assert looked.status_code == 429
    dropped = await client.delete(f"/api/v1/follows/{number}", headers=as_bob)
    assert dropped.status_code == 429


async def test_follows_need_a_signed_in_person(client, people):
    (ada, _), _, _ = people
    assert (await client.get("/api/v1/follows")).status_code == 401
    assert (await client.post("/api/v1/follows", json={"number": ada})).status_code == 401
    assert (await client.delete(f"/api/v1/follows/{ada}")).status_code == 401


def test_the_follow_routes_are_documented(app):
    paths = app.openapi()["paths"]
    post = paths["/api/v1/follows"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/FollowIn"
    )
    assert {"200", "201", "404", "422", "429"} <= set(post["responses"])
    listed = paths["/api/v1/follows"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["items"]["$ref"].endswith("/FollowOut")
    assert "204" in paths["/api/v1/follows/{number}"]["delete"]["responses"]
