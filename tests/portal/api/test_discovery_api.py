"""My phone, contact discovery and search, through the JSON API."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from portal.domain.phones import PhoneServices
from portal.sms import ConsoleSender, HttpGatewaySender
from portal.storage.models import PhoneVerification, User
from tests.fixtures.app import api_sign_up, api_token
from tests.portal.domain.people import account, block, person


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    await api_sign_up(client)
    return {"authorization": f"Bearer {await api_token(client)}"}


async def _me(db) -> User:
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    await db.refresh(user)
    return user


def _code(app, phone: str) -> str:
    sender: ConsoleSender = app.state.phones.sender
    sms = sender.last_to(phone)
    assert sms is not None
    return re.search(r"\b(\d{6})\b", sms.text).group(1)


async def test_verify_and_remove_a_phone(app, client, auth, db):
    response = await client.post(
        "/api/v1/me/phone", json={"phone": "347 123 4567", "region": "it"}, headers=auth
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["pending"], body["phone"], body["region"], body["tries_left"]) == (
        "+393471234567",
        None,
        "IT",
        5,
    )
    code = _code(app, "+393471234567")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = await client.post("/api/v1/me/phone/confirm", json={"code": wrong}, headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "This code is not right. 4 tries left."
    # The wrong try was kept.
    assert (await client.get("/api/v1/me/phone", headers=auth)).json()["tries_left"] == 4

    response = await client.post("/api/v1/me/phone/confirm", json={"code": code}, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+393471234567"
    assert response.json()["pending"] is None
    assert (await _me(db)).phone == "+393471234567"

    response = await client.delete("/api/v1/me/phone", headers=auth)
    assert response.status_code == 204
    assert (await client.get("/api/v1/me/phone", headers=auth)).json()["phone"] is None
    assert (await _me(db)).phone is None


async def test_a_number_someone_else_verified_is_refused(client, auth, db):
    await person(db, "Grace Hopper", phone="+393471234567")
    response = await client.post(
        "/api/v1/me/phone", json={"phone": "+39 347 123 4567"}, headers=auth
    )
    assert response.status_code == 409
    assert "another account" in response.json()["detail"]
    assert "Grace" not in response.text


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"phone": "347 123 4567"}, 422, "country code"),
        ({"phone": "+1 123 456 7890"}, 422, "not a phone number in use"),
        ({"phone": "+39 347", "region": "IT"}, 422, "too short"),
        ({"phone": "+393471234567", "region": "ZZ"}, 422, "two-letter code"),
        ({"phone": ""}, 422, "Enter your phone number."),
        ({"phone": 393471234567}, 422, "phone: Input should be a valid string"),
    ],
)
async def test_bad_phones_are_refused_and_nothing_is_kept(client, auth, db, body, status, words):
    response = await client.post("/api/v1/me/phone", json=body, headers=auth)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    user = await _me(db)
    assert user.region == ""
    assert await db.get(PhoneVerification, user.id) is None


@pytest.mark.parametrize(
    ("language", "too_short", "wrong_code", "title"),
    [
        (
            "it",
            "Questo numero è troppo corto.",
            "Questo codice non è giusto. Tentativi rimasti: 4.",
            "Dati non validi",
        ),
        (
            "fr",
            "Ce numéro est trop court.",
            "Ce code n'est pas le bon. Essais restants : 4.",
            "Saisie non valide",
        ),
    ],
)
async def test_phone_messages_speak_the_accept_language(
    app, client, auth, language, too_short, wrong_code, title
):
    headers = {**auth, "accept-language": language}
    response = await client.post("/api/v1/me/phone", json={"phone": "+39 3"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == too_short
    response = await client.post(
        "/api/v1/discovery", json={"numbers": ["12345"], "region": "US"}, headers=headers
    )
    assert response.json()["invalid"][0]["reason"] == too_short

    response = await client.post("/api/v1/me/phone", json={"phone": "+393471234567"}, headers=auth)
    assert response.status_code == 202
    code = _code(app, "+393471234567")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = await client.post("/api/v1/me/phone/confirm", json={"code": wrong}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == wrong_code
    assert response.json()["title"] == title
    assert (await client.get("/api/v1/me/phone", headers=auth)).json()["tries_left"] == 4


async def test_confirming_without_a_code_waiting(client, auth):
    response = await client.post("/api/v1/me/phone/confirm", json={"code": "123456"}, headers=auth)
    assert response.status_code == 422
    assert "no code waiting" in response.json()["detail"]


async def test_an_unreachable_gateway_is_a_502_and_nothing_is_kept(app, client, auth, db):
    # Port 9 (discard) of the loopback: nothing listens there.
    sender = HttpGatewaySender("http://127.0.0.1:9/sms", timeout=2)
    app.state.phones = PhoneServices(sender=sender, secret=app.state.phones.secret)
    response = await client.post("/api/v1/me/phone", json={"phone": "+393471234567"}, headers=auth)
    assert response.status_code == 502
    assert response.json()["title"] == "Network unavailable"
    assert "could not be sent" in response.json()["detail"]
    assert await db.get(PhoneVerification, (await _me(db)).id) is None


# -- discovery --------------------------------------------------------------------------------


async def test_discovery_answers_with_cards_and_reasons(client, auth, db):
    bob = await person(
        db, "Bob Found", phone="+12015550123", find_by_phone=True, phone_audience="members"
    )
    await account(db, bob, "github", "bob-public")
    await account(db, bob, "github", "bob-private", audience="private")
    await person(db, "Carol Hidden", phone="+12015550124", find_by_phone=False)
    blocker = await person(db, "Dan Blocker", phone="+12015550125", find_by_phone=True)
    await block(db, blocker, await _me(db))
    numbers = ["(201) 555-0123", "201-555-0124", "+1 201 555 0125", "12345", "abc"]
    response = await client.post(
        "/api/v1/discovery", json={"numbers": numbers, "region": "US"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["region"] == "US" and body["checked"] == 3
    [found] = body["found"]
    assert (found["input"], found["phone"]) == ("(201) 555-0123", "+12015550123")
    card = found["card"]
    assert card["number"] == bob.number
    assert card["display_name"] == "Bob Found"
    assert card["phone"] == "+12015550123"
    assert [a["handle"] for a in card["accounts"]] == ["@bob-public"]
    assert [bad["input"] for bad in body["invalid"]] == ["12345", "abc"]
    assert "too short" in body["invalid"][0]["reason"]
    assert "Carol" not in response.text and "Dan" not in response.text


async def test_discovery_is_bounded(client, auth):
    numbers = [f"+1201555{index:04d}" for index in range(1001)]
    response = await client.post("/api/v1/discovery", json={"numbers": numbers}, headers=auth)
    assert response.status_code == 422
    assert "numbers" in response.json()["detail"]
    response = await client.post("/api/v1/discovery", json={"numbers": []}, headers=auth)
    assert response.status_code == 422
    assert "at least one" in response.json()["detail"]


async def test_discovery_counts_numbers_against_a_daily_budget(client, auth):
    for start in range(5):
        numbers = [f"+1201555{start * 1000 + index:04d}" for index in range(1000)]
        response = await client.post("/api/v1/discovery", json={"numbers": numbers}, headers=auth)
        assert response.status_code == 200, response.text  # 1,000 numbers fit in a request
    response = await client.post(
        "/api/v1/discovery", json={"numbers": ["+12015559999"]}, headers=auth
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


# -- search -----------------------------------------------------------------------------------


async def test_search_finds_people_by_name_and_visible_handle(client, auth, db):
    grace = await person(db, "Grace Hopper", find_by_name=True)
    await account(db, grace, "github", "amazing-grace")
    await person(db, "Grace Hidden", find_by_name=False)
    response = await client.get("/api/v1/search", params={"q": "GRACE"}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["query"], body["page"], body["has_more"]) == ("grace", 1, False)
    assert [card["display_name"] for card in body["results"]] == ["Grace Hopper"]
    response = await client.get("/api/v1/search", params={"q": "@amazing"}, headers=auth)
    assert [card["number"] for card in response.json()["results"]] == [grace.number]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": "a"}, "at least 2"),
        ({"q": "x" * 101}, "at most 100"),
        ({"q": "x" * 1001}, "q: String should have at most 1000 characters"),
        ({"q": "ada", "page": "0"}, "page: Input should be greater than or equal to 1"),
        ({"q": "ada", "page": "x"}, "page: Input should be a valid integer"),
        ({}, "q: Field required"),
    ],
)
async def test_bad_searches_are_refused(client, auth, params, words):
    response = await client.get("/api/v1/search", params=params, headers=auth)
    assert response.status_code == 422
    assert words in response.json()["detail"]


async def test_searches_are_rate_limited(client, auth):
    statuses = [
        (await client.get("/api/v1/search", params={"q": "ada"}, headers=auth)).status_code
        for _ in range(31)
    ]
    assert statuses == [200] * 30 + [429]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me/phone"),
        ("POST", "/api/v1/me/phone"),
        ("POST", "/api/v1/me/phone/confirm"),
        ("DELETE", "/api/v1/me/phone"),
        ("POST", "/api/v1/discovery"),
        ("GET", "/api/v1/search?q=ada"),
    ],
)
async def test_everything_needs_a_signed_in_person(client, method, path):
    response = await client.request(method, path, json={})
    assert response.status_code == 401
