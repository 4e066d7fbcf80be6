"""Linked accounts through the JSON API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from portal.storage.models import LinkedAccount
from tests.fixtures.app import api_sign_up, api_token


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    await api_sign_up(client)
    return {"authorization": f"Bearer {await api_token(client)}"}


async def test_networks_say_what_each_can_do(client):
    response = await client.get("/api/v1/networks")
    assert response.status_code == 200
    networks = {n["name"]: n for n in response.json()}
    assert networks["email"]["auth"] == "code"
    assert networks["email"]["available"] is False  # no SMTP server configured
    assert networks["oidc"]["capabilities"] == ["verify"]


async def test_add_list_move_and_delete(client, auth):
    created = []
    for handle in ("one@example.org", "two@example.org"):
        response = await client.post(
            "/api/v1/me/accounts", json={"network": "email", "handle": handle}, headers=auth
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "unverified" and body["app_url"] == f"mailto:{handle}"
        created.append(body["id"])
    moved = await client.patch(
        f"/api/v1/me/accounts/{created[1]}", json={"position": 0}, headers=auth
    )
    assert moved.status_code == 200
    listing = await client.get("/api/v1/me/accounts", headers=auth)
    assert [a["id"] for a in listing.json()] == [created[1], created[0]]
    deleted = await client.delete(f"/api/v1/me/accounts/{created[0]}", headers=auth)
    assert deleted.status_code == 204
    listing = await client.get("/api/v1/me/accounts", headers=auth)
    assert [a["id"] for a in listing.json()] == [created[1]]
    again = await client.delete(f"/api/v1/me/accounts/{created[0]}", headers=auth)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"network": "email", "handle": "nope"}, 422, "not an email address"),
        ({"network": "nowhere", "handle": "x"}, 404, "no network called"),
        ({"network": "email"}, 422, ""),
        ({"network": "email", "handle": 12}, 422, ""),
        ({"network": "email", "handle": "a@b.org", "extra": 1}, 422, ""),
        ({"network": "email", "handle": "a@b.org", "password": "x"}, 422, "not linked with a"),
    ],
)
async def test_bad_input_is_refused(client, auth, body, status, detail):
    response = await client.post("/api/v1/me/accounts", json=body, headers=auth)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert (await client.get("/api/v1/me/accounts", headers=auth)).json() == []


async def test_accounts_need_authentication(client):
    assert (await client.get("/api/v1/me/accounts")).status_code == 401
    response = await client.post("/api/v1/me/accounts", json={"network": "email", "handle": "a"})
    assert response.status_code == 401


async def test_oauth_needs_an_oauth_network(client, auth):
    response = await client.post(
        "/api/v1/me/accounts/email/authorize", json={"server": "x"}, headers=auth
    )
    assert response.status_code == 422
    assert "not linked by authorizing" in response.json()["detail"]


async def _add(client, auth, network: str, handle: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/me/accounts", json={"network": network, "handle": handle}, headers=auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_handle_is_corrected_keeping_place_and_audience(client, auth):
    first = await _add(client, auth, "mastodon", "@ada@mastodon.socail")
    second = await _add(client, auth, "github", "octocat")
    path = f"/api/v1/me/accounts/{first['id']}"
    narrowed = await client.patch(path, json={"audience": "contacts"}, headers=auth)
    assert narrowed.status_code == 200
    fixed = await client.patch(path, json={"handle": "ada@Mastodon.Social"}, headers=auth)
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["handle"] == "@ada@mastodon.social"
    assert body["url"] == "https://mastodon.social/@ada"
    assert (body["position"], body["audience"], body["status"]) == (0, "contacts", "unverified")
    listing = (await client.get("/api/v1/me/accounts", headers=auth)).json()
    assert [a["id"] for a in listing] == [first["id"], second["id"]]


@pytest.mark.parametrize(
    ("handle", "status", "detail"),
    [
        ("ada", 422, "has a name and a server"),
        ("", 422, "Enter a handle"),
        ("@bob@example.social", 409, "Mastodon @bob@example.social is already linked."),
    ],
)
async def test_a_refused_handle_changes_nothing(client, auth, handle, status, detail):
    account = await _add(client, auth, "mastodon", "@ada@example.social")
    await _add(client, auth, "mastodon", "@bob@example.social")
    response = await client.patch(
        f"/api/v1/me/accounts/{account['id']}", json={"handle": handle}, headers=auth
    )
    assert response.status_code == status
    assert detail in response.json()["detail"]
    listing = (await client.get("/api/v1/me/accounts", headers=auth)).json()
    assert [a["handle"] for a in listing] == ["@ada@example.social", "@bob@example.social"]


async def test_a_verified_account_keeps_its_handle(client, auth, db):
    account = await _add(client, auth, "github", "octocat")
    linked = await db.get(LinkedAccount, account["id"])
    assert linked is not None
    linked.status, linked.verified_by, linked.external_id = "verified", "oauth", "583231"
    await db.commit()
    response = await client.patch(
        f"/api/v1/me/accounts/{account['id']}", json={"handle": "other"}, headers=auth
    )
    assert response.status_code == 409
    assert "verified account" in response.json()["detail"]
    listing = (await client.get("/api/v1/me/accounts", headers=auth)).json()
    assert [a["handle"] for a in listing] == ["@octocat"]


async def test_someone_elses_account_answers_as_an_unknown_one(client, auth):
    mine = await _add(client, auth, "github", "octocat")
    await api_sign_up(client, email="mallory@example.org")
    mallory = {"authorization": f"Bearer {await api_token(client, email='mallory@example.org')}"}
    answers = []
    for account_id in (mine["id"], mine["id"] + 1000):
        response = await client.patch(
            f"/api/v1/me/accounts/{account_id}", json={"handle": "mallory"}, headers=mallory
        )
        answers.append((response.status_code, response.json()["detail"]))
    assert answers == [(404, "This linked account does not exist.")] * 2
    listing = (await client.get("/api/v1/me/accounts", headers=auth)).json()
    assert [a["handle"] for a in listing] == ["@octocat"]
