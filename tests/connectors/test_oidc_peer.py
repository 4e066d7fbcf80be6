"""The test OpenID Connect provider behaves as a real one, seen with plain HTTP only."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.oidc import OIDCProvider, pkce_pair


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def test_discovery_names_the_issuer_and_its_endpoints(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(oidc_provider.discovery_url)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == oidc_provider.issuer
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["revocation_endpoint"] == oidc_provider.revocation_endpoint
    assert metadata["introspection_endpoint"] == oidc_provider.introspection_endpoint
    assert {"openid", "profile", "email", "offline_access"} <= set(metadata["scopes_supported"])
    keys = (await browser.get(metadata["jwks_uri"])).json()["keys"]
    assert [(key["kty"], key["alg"]) for key in keys] == [("RSA", "RS256")]
    assert "d" not in keys[0], "the provider must publish only the public key"


async def test_code_flow_with_pkce_state_and_nonce(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    url = oidc_provider.authorization_url(state=state, nonce=nonce, code_challenge=challenge)

    callback = await oidc_provider.complete_login(browser, url, "ada")

    assert callback.startswith("http://testserver/me/accounts/oidc/callback?")
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == [state]
    assert query["iss"] == [oidc_provider.issuer]
    response = await oidc_provider.exchange_code(browser, callback, code_verifier=verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"
    assert "refresh_token" not in tokens, "no refresh token without offline_access"
    claims = claims_of(tokens["id_token"])
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["sub"] == "ada"
    assert claims["nonce"] == nonce

    userinfo = await browser.get(
        f"{oidc_provider.issuer}/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["name"] == "Ada Lovelace"
    assert userinfo.json()["email"] == "ada@example.test"


async def test_the_code_needs_the_right_verifier_and_works_once(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce_pair()
    url = oidc_provider.authorization_url(state="s", nonce="n", code_challenge=challenge)
    callback = await oidc_provider.complete_login(browser, url)

    wrong = await oidc_provider.exchange_code(browser, callback, code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    right = await oidc_provider.exchange_code(browser, callback, code_verifier=verifier)
    assert right.status_code == 200, right.text
    replayed = await oidc_provider.exchange_code(browser, callback, code_verifier=verifier)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_pkce_is_required(oidc_provider: OIDCProvider, browser: httpx.AsyncClient) -> None:
    url = oidc_provider.authorization_url(state="s", nonce="n", code_challenge="")
    url = url.replace("&code_challenge=&code_challenge_method=S256", "")

    callback = await oidc_provider.complete_login(browser, url)

    query = parse_qs(urlsplit(callback).query)
    assert query["error"] == ["invalid_request"]
    assert "PKCE" in query["error_description"][0]


async def test_redirect_addresses_are_checked(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    _, challenge = pkce_pair()
    loopback = "http://127.0.0.1:8123/me/accounts/oidc/callback"
    url = oidc_provider.authorization_url(
        state="s", nonce="n", code_challenge=challenge, redirect_uri=loopback
    )
    assert (await oidc_provider.complete_login(browser, url)).startswith(loopback + "?code=")

    evil = oidc_provider.authorization_url(
        state="s", nonce="n", code_challenge=challenge, redirect_uri="https://evil.example/cb"
    )
    response = await browser.get(evil)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text


async def test_refresh_with_offline_access_until_revoked(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    sign_in = await oidc_provider.sign_in(browser, "grace", offline=True)
    assert sign_in.refresh_token

    refreshed = await oidc_provider.refresh(browser, sign_in.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != sign_in.access_token
    refresh_token = refreshed.json().get("refresh_token", sign_in.refresh_token)
    assert (await oidc_provider.introspect(browser, refresh_token))["active"] is True

    await oidc_provider.revoke(browser, refresh_token, token_type_hint="refresh_token")

    after = await oidc_provider.refresh(browser, refresh_token)
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert (await oidc_provider.introspect(browser, refresh_token)) == {"active": False}


async def test_the_other_client_gets_tokens_for_itself(
    oidc_provider: OIDCProvider, browser: httpx.AsyncClient
) -> None:
    sign_in = await oidc_provider.sign_in(browser, client_id=oidc_provider.other_client_id)

    assert claims_of(sign_in.id_token)["aud"] == "other-client"
    # Its secret is its own: the main client cannot redeem for it.
    refused = await browser.post(
        oidc_provider.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(oidc_provider.other_client_id, oidc_provider.client_secret),
    )
    assert refused.json()["error"] == "invalid_client"
