"""Linked accounts through the JSON API."""

from __future__ import annotations

import httpx
import pytest

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
