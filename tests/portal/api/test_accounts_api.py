"""The JSON API: sign-up, tokens, my profile, lookup; errors as problem+json."""

from __future__ import annotations

from portal.domain import number as numbers
from tests.fixtures.app import api_sign_up, api_token, get_csrf, web_sign_up


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_sign_up_token_me_and_profile(client):
    created = await api_sign_up(client)
    assert numbers.is_valid(created["number"])
    assert created["display_number"] == numbers.display(created["number"])
    token = await api_token(client)
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["number"] == created["number"]
    patched = await client.patch(
        "/api/v1/me", json={"bio": "Mathematician."}, headers=bearer(token)
    )
    assert patched.status_code == 200
    assert patched.json()["bio"] == "Mathematician."
    assert patched.json()["display_name"] == "Ada Lovelace"
    tokens = (await client.get("/api/v1/tokens", headers=bearer(token))).json()
    assert [t["name"] for t in tokens] == ["tests"]
    assert "token" not in tokens[0]


async def test_token_revocation_takes_effect_at_once(client):
    await api_sign_up(client)
    token = await api_token(client)
    other = await api_token(client)
    tokens = (await client.get("/api/v1/tokens", headers=bearer(token))).json()
    other_id = next(t["id"] for t in tokens if t["hint"] == other[-4:])
    response = await client.delete(f"/api/v1/tokens/{other_id}", headers=bearer(token))
    assert response.status_code == 204
    denied = await client.get("/api/v1/me", headers=bearer(other))
    assert denied.status_code == 401
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.headers["www-authenticate"].startswith("Bearer")
    assert "revoked" in denied.json()["detail"]


async def test_wrong_credentials_get_one_message(client):
    await api_sign_up(client)
    for body in (
        {"email": "ada@example.org", "password": "wrong wrong wrong"},
        {"email": "nobody@example.org", "password": "correct horse battery"},
    ):
        response = await client.post("/api/v1/tokens", json=body)
        assert response.status_code == 401
        assert response.json()["detail"] == "The email address or the password is wrong."


async def test_cookie_sessions_need_the_csrf_header_for_changes(client):
    await web_sign_up(client)
    assert (await client.get("/api/v1/me")).status_code == 200
    refused = await client.patch("/api/v1/me", json={"bio": "x"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    token = await get_csrf(client, "/me")
    accepted = await client.patch("/api/v1/me", json={"bio": "x"}, headers={"x-csrf-token": token})
    assert accepted.status_code == 200


async def test_password_change_and_account_deletion(client):
    await api_sign_up(client)
    token = await api_token(client)
    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": "correct horse battery", "new_password": "new and long enough"},
        headers=bearer(token),
    )
    assert response.status_code == 204
    wrong = await client.request(
        "DELETE", "/api/v1/me", json={"password": "correct horse battery"}, headers=bearer(token)
    )
    assert wrong.status_code == 422
    gone = await client.request(
        "DELETE", "/api/v1/me", json={"password": "new and long enough"}, headers=bearer(token)
    )
    assert gone.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_number_lookup(client):
    created = await api_sign_up(client)
    number = created["number"]
    found = await client.get(f"/api/v1/numbers/{numbers.display(number)}")
    assert found.status_code == 200
    assert found.json() == {
        "number": number,
        "display_number": numbers.display(number),
        "relation": "anonymous",
        "display_name": "Ada Lovelace",
        "bio": None,
        "avatar_url": None,
        "phone": None,
        "accounts": [],
    }
    typo = number[:3] + number[4] + number[3] + number[5:]
    if typo != number:
        refused = await client.get(f"/api/v1/numbers/{typo}")
        assert refused.status_code == 422
        assert "typo" in refused.json()["detail"]
    unknown = numbers.generate(8)
    while unknown == number:
        unknown = numbers.generate(8)
    assert (await client.get(f"/api/v1/numbers/{unknown}")).status_code == 404


async def test_openapi_document_lists_the_api(client):
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/signup", "/api/v1/tokens", "/api/v1/me", "/api/v1/numbers/{number}"):
        assert path in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = await client.get("/docs", headers={"accept": "text/html"})
    assert "/static/vendor/swagger-ui-bundle.js" in docs.text
