"""Linking a VK account by VK ID, end to end through the web routes.

No VK runs here, so VK ID (id.vk.com) and the VK API (api.vk.com) are faked at the HTTP layer
with respx, in the shapes VK ID's method reference documents
(https://id.vk.com/about/business/go/docs/en/vkid/latest/vk-id/connection/api-integration/
api-description): the person comes back with ``code``, ``state``, ``device_id``,
``expires_in`` and ``type``; ``POST /oauth2/auth`` takes the code with the PKCE verifier, the
app's ``client_id``, the ``device_id`` and the ``state`` (no secret), and answers the tokens
with the ``user_id``; a refresh names the device again; ``POST /oauth2/revoke`` takes the
``client_id`` and the ``access_token``. Errors of VK ID are OAuth's ``{"error",
"error_description"}``; the VK API answers HTTP 200 with ``{"error": {"error_code": 5}}`` for
a token it no longer accepts.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Draft
from connectors.vk import VK
from portal.config import Settings
from portal.domain import linking
from portal.storage.models import LinkedAccount, utcnow
from tests.fixtures.app import HTML, api_token, get_csrf, make_settings, post_form

DATA = Path(__file__).resolve().parents[2] / "testdata" / "vk"
APP_ID = "51234567"
CALLBACK = "https://portal.test/me/accounts/vk/callback"
SCOPES = ["vkid.personal_info", "wall", "photos"]


def _form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Grant:
    challenge: str
    redirect_uri: str
    device_id: str
    scopes: list[str]


@dataclass
class FakeVK:
    """VK ID and the VK API for one person, Pavel (user 1)."""

    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """Each refresh token, and the device it was issued on."""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_headers: list[httpx.Headers] = field(default_factory=list)
    revoked: list[dict[str, str]] = field(default_factory=list)
    posts: list[dict[str, str]] = field(default_factory=list)

    def install(self, router: respx.MockRouter) -> None:
        router.post("https://id.vk.com/oauth2/auth").mock(side_effect=self._token)
        router.post("https://id.vk.com/oauth2/revoke").mock(side_effect=self._revoke)
        router.post("https://api.vk.com/method/users.get").mock(side_effect=self._users_get)
        router.post("https://api.vk.com/method/wall.post").mock(side_effect=self._wall_post)

    def approve(self, url: str) -> str:
        """Pavel allows the app at VK ID: where it sends him back."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://id.vk.com/authorize"
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        assert query["response_type"] == "code"
        assert query["client_id"] == APP_ID
        assert query["code_challenge_method"] == "S256"
        assert len(query["state"]) >= 32  # VK ID asks for at least 32 characters
        code = secrets.token_urlsafe(24)
        device = "dev-" + secrets.token_hex(8)
        self.grants[code] = Grant(
            query["code_challenge"], query["redirect_uri"], device, query["scope"].split()
        )
        back = {
            "code": code,
            "state": query["state"],
            "device_id": device,
            "expires_in": "600",
            "type": "code_v2",
            "ext_id": secrets.token_hex(16),
        }
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def _issue(self, device: str, scopes: list[str], state: str) -> httpx.Response:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.tokens.add(access)
        self.refresh_tokens[refresh] = device
        return httpx.Response(
            200,
            json={
                "refresh_token": refresh,
                "access_token": access,
                "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",
                "token_type": "Bearer",
                "expires_in": 3600,
                "user_id": 1,
                "state": state,
                "scope": " ".join(scopes),
            },
        )

    def _token(self, request: httpx.Request) -> httpx.Response:
        sent = _form(request)
        self.token_requests.append(sent)
        self.token_headers.append(request.headers)
        refused = httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "grant is invalid"}
        )
        if sent.get("client_id") != APP_ID or len(sent.get("state", "")) < 32:
            return httpx.Response(
                400, json={"error": "invalid_request", "error_description": "bad request"}
            )
        if sent.get("grant_type") == "refresh_token":
            device = self.refresh_tokens.pop(sent.get("refresh_token", ""), None)
            if device is None or device != sent.get("device_id"):
                return refused
            return self._issue(device, SCOPES, sent["state"])
        grant = self.grants.pop(sent.get("code", ""), None)
        if (
            sent.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != sent.get("redirect_uri")
            or grant.device_id != sent.get("device_id")
            or grant.challenge != _challenge(sent.get("code_verifier", ""))
        ):
            return refused
        return self._issue(grant.device_id, grant.scopes, sent["state"])

    def _revoke(self, request: httpx.Request) -> httpx.Response:
        sent = _form(request)
        self.revoked.append(sent)
        self.tokens.discard(sent.get("access_token", ""))
        return httpx.Response(200, json={"response": 1})

    def _api(self, request: httpx.Request, name: str) -> httpx.Response:
        if _form(request).get("access_token") not in self.tokens:
            return httpx.Response(200, content=(DATA / "error.5.json").read_bytes())
        return httpx.Response(200, content=(DATA / f"{name}.json").read_bytes())

    def _users_get(self, request: httpx.Request) -> httpx.Response:
        return self._api(request, "users.get")

    def _wall_post(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(_form(request))
        return self._api(request, "wall.post")


@pytest.fixture
def settings() -> Settings:
    return make_settings(vk_client_id=APP_ID)


@pytest.fixture
def vk() -> Iterator[FakeVK]:
    fake = FakeVK()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        fake.install(router)
        yield fake


async def _start(client: httpx.AsyncClient, path: str = "/me/accounts/vk/authorize") -> str:
    page = await client.get("/me/accounts/add?network=vk", headers=HTML)
    assert "Continue to VK" in page.text
    token = await get_csrf(client, "/me/accounts")
    response = await client.post(
        path, data={"csrf_token": token}, headers={**HTML, "hx-request": "true"}
    )
    assert response.status_code == 204, response.text
    url: str = response.headers["hx-redirect"]
    return url


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK, url
    return f"{parts.path}?{parts.query}"


async def _only(db: AsyncSession) -> LinkedAccount:
    db.expire_all()
    return (await db.scalars(select(LinkedAccount))).one()


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def test_the_authorization_request_is_vk_ids_with_pkce(signed_in, vk):
    url = await _start(signed_in)
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith("https://id.vk.com/authorize?")
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"].split() == SCOPES
    assert len(query["code_challenge"]) == 43
    assert vk.token_requests == []


async def test_a_full_link_publish_refresh_and_unlink(signed_in, vk, db, app):
    response = await signed_in.get(_local(vk.approve(await _start(signed_in))), headers=HTML)
    assert response.status_code == 303, response.text
    account = await _only(db)
    assert (account.network, account.status, account.verified_by) == ("vk", "verified", "oauth")
    assert (account.handle, account.external_id, account.server) == ("durov", "1", "vk.com")
    assert account.display_name == "Pavel Durov"

    # The code went to VK ID with the verifier, the app's id, the device and the state; no
    # secret, in no header either.
    [exchange] = vk.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == CALLBACK
    assert {"device_id", "state", "code_verifier"} <= set(exchange)
    assert "client_secret" not in exchange and "authorization" not in vk.token_headers[0]

    # The device is kept with the tokens, encrypted.
    services = app.state.links
    kept = services.vault.decrypt_json(account.secrets)
    assert kept["extra"]["device_id"] == exchange["device_id"]
    assert (kept["extra"]["user_id"], kept["extra"]["client_id"]) == (1, APP_ID)
    assert exchange["device_id"] not in account.secrets

    # What is kept publishes on the account's wall.
    credentials = linking.load_credentials(services, account)
    async with httpx.AsyncClient() as http:
        published = await VK(account.handle, credentials, http).publish(Draft("Hi"), "k-1")
    assert published.url is not None and published.url.startswith("https://vk.com/wall1_")
    [post] = vk.posts
    assert (post["access_token"], post["message"], post["guid"]) == (
        kept["access_token"],
        "Hi",
        "k-1",
    )

    # An hour later the token is refreshed when the account is checked, naming the device.
    account.token_expires_at = utcnow() + timedelta(seconds=30)
    await db.commit()
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/check")).status_code == 303
    refresh = vk.token_requests[-1]
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == kept["refresh_token"]
    assert refresh["device_id"] == exchange["device_id"]
    assert len(refresh["state"]) >= 32 and refresh["state"] != exchange["state"]
    account = await _only(db)
    renewed = services.vault.decrypt_json(account.secrets)
    assert account.status == "verified"
    assert renewed["access_token"] != kept["access_token"]
    assert renewed["extra"]["device_id"] == exchange["device_id"]
    assert account.token_expires_at > utcnow() + timedelta(minutes=30)

    # Unlinking takes back what Pavel allowed the app.
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    assert vk.revoked == [{"client_id": APP_ID, "access_token": renewed["access_token"]}]


async def test_a_refresh_vk_refuses_asks_to_connect_again(signed_in, vk, db):
    await signed_in.get(_local(vk.approve(await _start(signed_in))), headers=HTML)
    account = await _only(db)
    vk.refresh_tokens.clear()  # Pavel took the access back in his VK ID settings
    vk.tokens.clear()
    account.token_expires_at = utcnow() + timedelta(seconds=30)
    await db.commit()
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/check")).status_code == 303
    account = await _only(db)
    assert account.status == "needs_reconnect"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert f"/me/accounts/{account.id}/reconnect" in page.text


async def test_declining_at_vk_links_nothing(signed_in, vk, db):
    state = parse_qs(urlsplit(await _start(signed_in)).query)["state"][0]
    declined = urlencode(
        {"error": "access_denied", "error_description": "User denied access", "state": state}
    )
    response = await signed_in.get(f"/me/accounts/vk/callback?{declined}", headers=HTML)
    assert response.status_code == 422
    assert "did not allow the link on VK" in response.text
    assert await _accounts(db) == [] and vk.token_requests == []


async def test_a_wrong_state_links_nothing(signed_in, vk, db):
    callback = _local(vk.approve(await _start(signed_in))).replace("state=", "state=x")
    response = await signed_in.get(callback, headers=HTML)
    assert response.status_code == 422
    assert "does not belong to a link you started" in response.text
    assert await _accounts(db) == [] and vk.token_requests == []


async def test_an_answer_without_the_device_links_nothing(signed_in, vk, db):
    callback = _local(vk.approve(await _start(signed_in)))
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items() if k != "device_id"}
    response = await signed_in.get(f"/me/accounts/vk/callback?{urlencode(query)}", headers=HTML)
    assert response.status_code == 422
    assert "did not say which device" in response.text
    assert await _accounts(db) == [] and vk.token_requests == []


async def test_a_code_vk_refuses_links_nothing(signed_in, vk, db):
    callback = _local(vk.approve(await _start(signed_in)))
    vk.grants.clear()  # the code ran out before the person came back
    response = await signed_in.get(callback, headers=HTML)
    assert response.status_code == 422
    assert "already used or has expired" in response.text
    assert await _accounts(db) == []


async def test_a_token_the_vk_api_refuses_links_nothing(signed_in, vk, db, monkeypatch):
    callback = _local(vk.approve(await _start(signed_in)))
    issue = vk._issue

    def revoked_at_once(*args: Any) -> httpx.Response:
        answer = issue(*args)
        vk.tokens.clear()
        return answer

    monkeypatch.setattr(vk, "_issue", revoked_at_once)
    response = await signed_in.get(callback, headers=HTML)
    assert response.status_code == 422
    assert "VK no longer accepts this connection" in response.text
    assert await _accounts(db) == []


async def test_without_the_app_vk_is_a_handle_with_links(signed_in, app):
    app.state.links = replace(app.state.links, apps={})  # the operator removed the app
    page = await signed_in.get("/me/accounts/add?network=vk", headers=HTML)
    assert "Continue to VK" not in page.text and "Your server" not in page.text
    token = await get_csrf(signed_in, "/me/accounts")
    response = await signed_in.post(
        "/me/accounts/vk/authorize", data={"csrf_token": token}, headers=HTML
    )
    assert response.status_code == 422
    assert "not set up to connect VK accounts" in response.text
    networks = {n["name"]: n for n in (await signed_in.get("/api/v1/networks")).json()}
    assert (networks["vk"]["link_only"], networks["vk"]["available"]) == (True, False)


async def test_the_api_starts_the_same_link(signed_in, vk, db):
    bearer = {"authorization": f"Bearer {await api_token(signed_in)}"}
    response = await signed_in.post("/api/v1/me/accounts/vk/authorize", json={}, headers=bearer)
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith("https://id.vk.com/authorize?")
    # The person authorizes in a browser signed in to the portal.
    assert (await signed_in.get(_local(vk.approve(url)), headers=HTML)).status_code == 303
    account = await _only(db)
    assert (account.network, account.status) == ("vk", "verified")
