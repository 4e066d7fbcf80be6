"""Linking a Mastodon account, end to end through the web routes (and once through the API).

No Mastodon server runs here, so one instance, ``mastodon.example``, is faked at the HTTP layer
with respx. It answers with recorded bodies (tests/testdata/mastodon: the official docs'
examples, and ``live_*`` answers recorded from a running server) and keeps the state a real
instance keeps: registered apps and their scopes, authorization codes bound to a PKCE
challenge, tokens and which app they were issued to. It refuses what Mastodon refuses: an
unknown scope at registration before 4.3, an authorization asking for scopes the app was not
registered with, a code used twice, a wrong verifier or client secret.

With ``coarse`` it is another server of the Mastodon API, as GoToSocial, Pleroma or Takahē
can be: no OAuth metadata (404), only the scopes ``read write follow push``; an app asking for
granular scopes is registered, but its token is refused by ``verify_credentials`` with 403
``out_of_scope_for_token``, and a bad or revoked token gets ``400 text/html``
"Invalid Bearer token".
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import httpx
import pytest
import respx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.storage.models import LinkAttempt, LinkedAccount, OAuthApp
from tests.fixtures.app import (
    HTML,
    api_token,
    get_csrf,
    make_settings,
    post_form,
)

DATA = Path(__file__).resolve().parents[2] / "testdata" / "mastodon"
INSTANCE = "mastodon.example"
ROOT = f"https://{INSTANCE}"
CALLBACK = "https://portal.test/me/accounts/mastodon/callback"
SCOPES_4_3 = ["profile", "read:statuses", "write:statuses", "write:media"]
CLASSIC = ["read", "write"]
COARSE = {"read", "write", "follow", "push"}
SCOPES_REFUSED = "Validation failed: Scopes doesn't match configured on the server."
HANDLE = "mastodonpy_test@mastodon.example"
"""The account recorded in live_verify_credentials.json, on the faked instance."""


def _recorded(name: str) -> Any:
    """A recorded body, as the faked instance would send it (its own address in the links)."""
    raw = (DATA / f"{name}.json").read_text()
    return json.loads(
        raw.replace("http://localhost:3000", ROOT).replace("social.example", INSTANCE)
    )


def _form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def _basic(request: httpx.Request) -> tuple[str, str]:
    """The client id and secret of ``client_secret_basic`` (RFC 6749 §2.3.1)."""
    kind, _, value = request.headers.get("authorization", "").partition(" ")
    if kind.lower() != "basic":
        return "", ""
    client_id, _, secret = base64.b64decode(value).decode().partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


@dataclass
class App:
    client_id: str
    secret: str
    redirect_uri: str
    scopes: list[str]


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    challenge: str


@dataclass
class FakeMastodon:
    """One Mastodon instance: ``version`` says whether it has OAuth metadata and ``profile``."""

    version: tuple[int, int] = (4, 3)
    coarse: bool = False
    failing_checks: int = 0
    """How many of the next ``verify_credentials`` answer 503."""
    apps: dict[str, App] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """Valid access tokens, and the app each was issued to."""
    scopes: dict[str, list[str]] = field(default_factory=dict)
    """The scopes of every token issued."""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    refused_revocations: list[str] = field(default_factory=list)
    registrations: list[dict[str, str]] = field(default_factory=list)
    token_answer: httpx.Response | None = None
    """What the token endpoint answers instead of a token, when set."""

    def install(self, router: respx.MockRouter) -> None:
        router.get(f"{ROOT}/.well-known/oauth-authorization-server").mock(side_effect=self._meta)
        router.post(f"{ROOT}/api/v1/apps").mock(side_effect=self._register)
        router.post(f"{ROOT}/oauth/token").mock(side_effect=self._token)
        router.get(f"{ROOT}/api/v1/accounts/verify_credentials").mock(side_effect=self._verify)
        router.post(f"{ROOT}/oauth/revoke").mock(side_effect=self._revoke)

    def _meta(self, request: httpx.Request) -> httpx.Response:
        if self.coarse or self.version < (4, 3):  # the route does not exist (before 4.3)
            return httpx.Response(404, text="<html><body>The page you are looking for")
        return httpx.Response(200, json=_recorded("oauth_authorization_server_metadata"))

    def _register(self, request: httpx.Request) -> httpx.Response:
        sent = _form(request)
        self.registrations.append(sent)
        scopes = sent["scopes"].split()
        if self.version < (4, 3) and "profile" in scopes and not self.coarse:
            return httpx.Response(422, json={"error": SCOPES_REFUSED})
        app = App(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), sent["redirect_uris"], scopes
        )
        self.apps[app.client_id] = app
        body = _recorded("live_apps_create")
        body.update(
            name=sent["client_name"],
            website=sent["website"],
            scopes=scopes,
            redirect_uris=[app.redirect_uri],
            redirect_uri=app.redirect_uri,
            client_id=app.client_id,
            client_secret=app.secret,
        )
        if self.coarse or self.version < (4, 3):  # the Application entity before 4.3
            for key in ("scopes", "redirect_uris", "client_secret_expires_at"):
                del body[key]
        return httpx.Response(200, json=body)

    def approve(self, url: str) -> str:
        """The person allows the authorization at the instance: where it sends them back."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ROOT}/oauth/authorize"
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        app = self.apps[query["client_id"]]
        assert query["response_type"] == "code"
        assert query["redirect_uri"] == app.redirect_uri
        assert query["code_challenge_method"] == "S256"
        scopes = query["scope"].split()
        if not set(scopes) <= set(app.scopes):  # Doorkeeper: only the app's own scopes
            answer = {"error": "invalid_scope", "state": query["state"]}
            return f"{app.redirect_uri}?{urlencode(answer)}"
        code = secrets.token_urlsafe(32)
        self.grants[code] = Grant(app.client_id, app.redirect_uri, scopes, query["code_challenge"])
        return f"{app.redirect_uri}?{urlencode({'code': code, 'state': query['state']})}"

    def _token(self, request: httpx.Request) -> httpx.Response:
        sent = _form(request)
        self.token_requests.append(sent)
        if self.token_answer is not None:
            return self.token_answer
        client_id, secret = _basic(request)
        app = self.apps.get(client_id)
        if app is None or app.secret != secret:
            body = json.loads((DATA / "oauth_token_401_invalid_client.json").read_text())
            return httpx.Response(401, json=body)
        grant = self.grants.pop(sent.get("code", ""), None)
        verifier = sent.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            sent.get("grant_type") != "authorization_code"
            or grant is None
            or grant.client_id != client_id
            or grant.redirect_uri != sent.get("redirect_uri")
            or grant.challenge != challenge
        ):
            return httpx.Response(400, json={"error": "invalid_grant"})
        token = secrets.token_urlsafe(32)
        self.tokens[token] = client_id
        self.scopes[token] = grant.scopes
        body = _recorded("live_oauth_token")
        body.update(access_token=token, scope=" ".join(grant.scopes))
        return httpx.Response(200, json=body)

    def _verify(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.failing_checks:
            self.failing_checks -= 1
            return httpx.Response(503, text="<h1>Service unavailable</h1>")
        if token not in self.tokens and self.coarse:
            return httpx.Response(
                400, text="Invalid Bearer token", headers={"content-type": "text/html"}
            )
        if self.coarse and not set(self.scopes[token]) <= COARSE:
            return httpx.Response(403, json={"error": "out_of_scope_for_token"})
        if token not in self.tokens:
            meta = json.loads((DATA / "live_error_401_timelines_home.headers.json").read_text())
            return httpx.Response(
                401,
                headers={"www-authenticate": meta["headers"]["www-authenticate"]},
                json=_recorded("live_error_401_timelines_home"),
            )
        return httpx.Response(200, json=_recorded("live_verify_credentials"))

    def _revoke(self, request: httpx.Request) -> httpx.Response:
        client_id, secret = _basic(request)
        app = self.apps.get(client_id)
        if app is None or app.secret != secret:
            body = json.loads((DATA / "oauth_token_401_invalid_client.json").read_text())
            return httpx.Response(401, json=body)
        token = _form(request).get("token", "")
        if token in self.tokens and self.tokens[token] != client_id:
            self.refused_revocations.append(token)  # Doorkeeper: not this client's token
            return httpx.Response(403, json={"error": "unauthorized_client"})
        if self.tokens.pop(token, None) is not None:
            self.revoked.append(token)
        return httpx.Response(200, json={})


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    return make_settings(**getattr(request, "param", {}))


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        fake.install(router)
        yield fake


async def _start(
    client: httpx.AsyncClient,
    path: str = "/me/accounts/mastodon/authorize",
    server: str = INSTANCE,
) -> str:
    token = await get_csrf(client, "/me/accounts")
    response = await client.post(
        path,
        data={"csrf_token": token, "server": server},
        headers={**HTML, "hx-request": "true"},
    )
    assert response.status_code == 204, response.text
    url: str = response.headers["hx-redirect"]
    return url


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK, url
    return f"{parts.path}?{parts.query}"


async def _link(client: httpx.AsyncClient, fake: FakeMastodon) -> tuple[str, httpx.Response]:
    callback = fake.approve(await _start(client))
    return callback, await client.get(_local(callback), headers=HTML)


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def _apps(db: AsyncSession) -> list[OAuthApp]:
    db.expire_all()
    return list((await db.scalars(select(OAuthApp))).all())


async def test_the_authorization_request_is_pkce_with_the_registered_scopes(
    signed_in, mastodon, db
):
    url = await _start(signed_in)
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{ROOT}/oauth/authorize?")
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256, no padding
    assert len(query["state"]) >= 32
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"].split() == SCOPES_4_3
    assert "nonce" not in query
    # Portal registered itself once, with the same scopes and the exact return address.
    [registration] = mastodon.registrations
    assert registration["scopes"].split() == SCOPES_4_3
    assert registration["redirect_uris"] == CALLBACK
    assert registration["website"] == "https://portal.test"
    [app] = await _apps(db)
    assert (app.network, app.server, app.client_id) == ("mastodon", INSTANCE, query["client_id"])


async def test_a_full_link_check_reconnect_and_unlink(signed_in, mastodon, db, app):
    callback, response = await _link(signed_in, mastodon)
    assert response.status_code == 303, response.text
    # Not through the guided start yet: linking goes back to it.
    assert response.headers["location"] == "/me/start"
    [account] = await _accounts(db)
    assert (account.network, account.status, account.verified_by) == (
        "mastodon",
        "verified",
        "oauth",
    )
    assert (account.handle, account.server) == (HANDLE, INSTANCE)
    assert account.external_id == "117020457910412882"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in page.text
    assert f"@{HANDLE}" in page.text

    # The code was exchanged as the registered client, with the verifier of the challenge.
    [exchange] = mastodon.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == CALLBACK
    assert "client_secret" not in exchange  # sent in the Authorization header only
    services = app.state.links
    secrets_kept = services.vault.decrypt_json(account.secrets)
    assert secrets_kept["access_token"] in mastodon.tokens
    assert secrets_kept["scope"].split() == SCOPES_4_3

    # The same answer a second time (a replayed code and state) links nothing more.
    replay = await signed_in.get(_local(callback), headers=HTML)
    assert replay.status_code == 422
    assert "already used" in replay.text
    assert len(mastodon.token_requests) == 1

    # A second link on the same instance uses the app registered the first time.
    again = await _start(signed_in)
    assert len(mastodon.registrations) == 1
    assert parse_qs(urlsplit(again).query)["client_id"] == [next(iter(mastodon.apps))]

    # The person revokes Portal's access in Mastodon: the check says it needs reconnecting.
    mastodon.tokens.clear()
    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    [account] = await _accounts(db)
    assert account.status == "needs_reconnect"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert "needs reconnect" in page.text and f"/me/accounts/{account.id}/reconnect" in page.text
    # The owner is told once, not at every check.
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    notes = await signed_in.get("/me/notifications", headers=HTML)
    assert notes.text.count("needs to be connected again") == 1

    # Reconnecting starts a new authorization for that account, on its instance.
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    attempt = (
        await db.scalars(select(LinkAttempt).where(LinkAttempt.linked_account_id.is_not(None)))
    ).one()
    assert (attempt.linked_account_id, attempt.server) == (account.id, INSTANCE)
    callback = mastodon.approve(url)
    assert (await signed_in.get(_local(callback), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    assert account.status == "verified" and account.problem == ""
    token = services.vault.decrypt_json(account.secrets)["access_token"]
    assert token in mastodon.tokens

    # Unlinking revokes the token at the instance, as the client it was issued to.
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    assert mastodon.revoked == [token]
    assert token not in mastodon.tokens


async def test_a_wrong_state_links_nothing(signed_in, mastodon, db):
    callback = mastodon.approve(await _start(signed_in))
    forged = _local(callback).replace("state=", "state=x")
    response = await signed_in.get(forged, headers=HTML)
    assert response.status_code == 422
    assert "does not belong to a link you started" in response.text
    assert await _accounts(db) == []
    assert mastodon.token_requests == []


async def test_declining_at_the_instance_links_nothing(signed_in, mastodon, db):
    url = await _start(signed_in)
    state = parse_qs(urlsplit(url).query)["state"][0]
    declined = urlencode(
        {
            "error": "access_denied",
            "error_description": "The resource owner or authorization server denied the request.",
            "state": state,
        }
    )
    response = await signed_in.get(f"/me/accounts/mastodon/callback?{declined}", headers=HTML)
    assert response.status_code == 422
    assert "did not allow the link" in response.text
    assert await _accounts(db) == []
    assert mastodon.token_requests == []
    # The attempt is spent: the same state with a code does not link either.
    late = await signed_in.get(f"/me/accounts/mastodon/callback?state={state}&code=x", headers=HTML)
    assert late.status_code == 422
    assert await _accounts(db) == []


async def test_tokens_and_client_secrets_are_encrypted_at_rest(signed_in, mastodon, db, app):
    await _link(signed_in, mastodon)
    await _start(signed_in)  # an attempt under way keeps its PKCE verifier
    [account] = await _accounts(db)
    services = app.state.links
    token = services.vault.decrypt_json(account.secrets)["access_token"]
    [registered] = mastodon.apps.values()
    [attempt] = (await db.scalars(select(LinkAttempt))).all()
    verifier = services.vault.decrypt_json(attempt.secrets)["verifier"]
    dump = ""
    for table in ("linked_accounts", "link_attempts", "oauth_apps", "users"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert registered.client_id in dump  # the client id is not a secret
    for secret in (token, registered.secret, verifier):
        assert secret and secret not in dump


async def test_an_instance_before_4_3_is_asked_for_read_and_write(signed_in, mastodon, db, app):
    mastodon.version = (4, 2)
    url = await _start(signed_in)
    # No metadata lists granular scopes there: the app and the authorization name read write.
    [registration] = mastodon.registrations
    assert registration["scopes"].split() == CLASSIC
    assert parse_qs(urlsplit(url).query)["scope"][0].split() == CLASSIC
    response = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert (account.status, account.handle) == ("verified", HANDLE)
    kept = app.state.links.vault.decrypt_json(account.secrets)
    assert kept["scope"].split() == CLASSIC
    # Unlinking revokes at the fixed path of an instance without metadata.
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert mastodon.revoked == [kept["access_token"]]


async def test_an_instance_upgraded_to_4_3_gets_an_app_with_its_new_scopes(
    signed_in, mastodon, db, app
):
    mastodon.version = (4, 2)
    await _link(signed_in, mastodon)
    [old_app] = await _apps(db)
    old_client_id = old_app.client_id
    mastodon.version = (4, 3)

    # The app registered for read write cannot be asked for profile: it is registered anew.
    url = await _start(signed_in)
    assert [r["scopes"].split() for r in mastodon.registrations] == [CLASSIC, SCOPES_4_3]
    [new_app] = await _apps(db)
    assert new_app.client_id != old_client_id
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [new_app.client_id]
    assert query["scope"][0].split() == SCOPES_4_3
    callback = mastodon.approve(url)
    assert "code=" in callback, callback
    assert (await signed_in.get(_local(callback), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    assert account.status == "verified"
    assert app.state.links.vault.decrypt_json(account.secrets)["scope"].split() == SCOPES_4_3

    # A third link keeps the new app.
    await _start(signed_in)
    assert len(mastodon.registrations) == 2


async def test_an_unknown_or_private_server_is_refused_before_any_request(signed_in, mastodon, db):
    for server in ("localhost", "127.0.0.1", "mastodon.example:8443", "not a server"):
        token = await get_csrf(signed_in, "/me/accounts")
        response = await signed_in.post(
            "/me/accounts/mastodon/authorize",
            data={"csrf_token": token, "server": server},
            headers=HTML,
        )
        assert response.status_code == 422, (server, response.status_code)
    assert mastodon.registrations == []
    assert await _apps(db) == []


async def test_the_api_starts_the_same_flow(signed_in, mastodon, db):
    bearer = {"authorization": f"Bearer {await api_token(signed_in)}"}
    response = await signed_in.post(
        "/api/v1/me/accounts/mastodon/authorize", json={"server": INSTANCE}, headers=bearer
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert parse_qs(urlsplit(url).query)["scope"][0].split() == SCOPES_4_3
    # The person authorizes in a browser signed in to the portal.
    callback = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert callback.status_code == 303
    listed = await signed_in.get("/api/v1/me/accounts", headers=bearer)
    [account] = listed.json()
    assert (account["network"], account["status"], account["verified_by"]) == (
        "mastodon",
        "verified",
        "oauth",
    )
    assert account["handle"] == f"@{HANDLE}"
    refused = await signed_in.post(
        "/api/v1/me/accounts/mastodon/authorize", json={"server": "localhost"}, headers=bearer
    )
    assert refused.status_code == 422
    assert refused.json()["detail"]


def _kept_token(app: Any, account: LinkedAccount) -> str:
    token: str = app.state.links.vault.decrypt_json(account.secrets)["access_token"]
    return token


async def test_a_server_without_metadata_links_checks_reconnects_and_unlinks(
    signed_in, mastodon, db, app
):
    mastodon.coarse = True
    url = await _start(signed_in)
    # It lists no granular scopes, so Portal asks for the classic ones it does know.
    [registration] = mastodon.registrations
    assert registration["scopes"].split() == CLASSIC
    assert parse_qs(urlsplit(url).query)["scope"][0].split() == CLASSIC
    response = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert (account.status, account.handle, account.server) == ("verified", HANDLE, INSTANCE)
    first = _kept_token(app, account)

    # The person revokes Portal's access there: "400 Invalid Bearer token" means reconnect.
    mastodon.tokens.clear()
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    [account] = await _accounts(db)
    assert account.status == "needs_reconnect"
    notes = await signed_in.get("/me/notifications", headers=HTML)
    assert "needs to be connected again" in notes.text

    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert (await signed_in.get(_local(mastodon.approve(url)), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    assert (account.status, account.problem) == ("verified", "")
    second = _kept_token(app, account)
    assert second != first and second in mastodon.tokens
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    [account] = await _accounts(db)
    assert account.status == "verified"

    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    assert mastodon.revoked == [second]
    assert mastodon.tokens == {}


async def test_an_app_with_granular_scopes_is_registered_anew_where_they_are_not_listed(
    signed_in, mastodon, db
):
    await _start(signed_in)  # Mastodon 4.3: the app has the granular scopes
    mastodon.coarse = True  # the same address now runs a server that lists none
    url = await _start(signed_in)
    assert [r["scopes"].split() for r in mastodon.registrations] == [SCOPES_4_3, CLASSIC]
    response = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert account.status == "verified"


async def test_reconnecting_revokes_the_token_it_replaces(signed_in, mastodon, db, app):
    await _link(signed_in, mastodon)
    [account] = await _accounts(db)
    old = _kept_token(app, account)
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert (await signed_in.get(_local(mastodon.approve(url)), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    new = _kept_token(app, account)
    assert new != old
    assert mastodon.revoked == [old]
    assert list(mastodon.tokens) == [new]
    assert account.status == "verified"


async def test_reconnecting_after_the_app_was_registered_anew_revokes_the_old_token(
    signed_in, mastodon, db, app
):
    mastodon.version = (4, 2)  # no granular scopes: the app is registered for read write
    await _link(signed_in, mastodon)
    [account] = await _accounts(db)
    old = _kept_token(app, account)
    mastodon.version = (4, 3)  # upgraded: the reconnect registers an app with the new scopes
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert len(mastodon.registrations) == 2
    assert (await signed_in.get(_local(mastodon.approve(url)), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    new = _kept_token(app, account)
    # The old token is revoked as the client it was issued to, which the server accepts.
    assert mastodon.refused_revocations == []
    assert mastodon.revoked == [old]
    assert list(mastodon.tokens) == [new]


async def test_unlinking_after_the_app_was_registered_anew_revokes_the_token(
    signed_in, mastodon, db, app
):
    mastodon.version = (4, 2)
    await _link(signed_in, mastodon)
    [account] = await _accounts(db)
    token = _kept_token(app, account)
    mastodon.version = (4, 3)
    await _start(signed_in)  # a link started (and left) registers the app anew
    assert len(mastodon.registrations) == 2
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert mastodon.refused_revocations == []
    assert mastodon.revoked == [token]
    assert mastodon.tokens == {}


async def test_linking_again_revokes_the_token_it_replaces(signed_in, mastodon, db, app):
    await _link(signed_in, mastodon)
    [account] = await _accounts(db)
    old = _kept_token(app, account)
    _, response = await _link(signed_in, mastodon)  # the same account, linked a second time
    assert response.status_code == 303
    [account] = await _accounts(db)
    assert mastodon.revoked == [old]
    assert list(mastodon.tokens) == [_kept_token(app, account)]


async def test_a_link_that_fails_after_the_code_exchange_revokes_its_token(signed_in, mastodon, db):
    mastodon.failing_checks = 1  # the server fails to say whose token it is
    _, response = await _link(signed_in, mastodon)
    assert response.status_code == 502, response.text
    assert await _accounts(db) == []
    [issued] = mastodon.scopes  # one token was issued, and it is revoked again
    assert mastodon.revoked == [issued]
    assert mastodon.tokens == {}


async def test_a_reconnect_as_another_account_keeps_the_old_token_and_revokes_the_new(
    signed_in, mastodon, db, app
):
    await _link(signed_in, mastodon)
    [account] = await _accounts(db)
    old = _kept_token(app, account)
    account.external_id = "1"  # as if the account linked first were another one
    await db.flush()
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    response = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert response.status_code == 422
    assert "another Mastodon account" in response.text
    [account] = await _accounts(db)
    assert _kept_token(app, account) == old
    assert list(mastodon.tokens) == [old]
    [new] = mastodon.revoked
    assert new != old


@pytest.mark.parametrize(
    "server",
    [
        f"@{HANDLE}",
        HANDLE,
        f"https://{INSTANCE}/@mastodonpy_test",
        f"https://{INSTANCE}/users/mastodonpy_test",
        f"https://{INSTANCE.upper()}/",
    ],
)
async def test_the_server_field_takes_a_handle_or_a_profile_address(
    signed_in, mastodon, db, server
):
    url = await _start(signed_in, server=server)
    assert url.startswith(f"{ROOT}/oauth/authorize?")
    response = await signed_in.get(_local(mastodon.approve(url)), headers=HTML)
    assert response.status_code == 303, response.text
    [account] = await _accounts(db)
    assert (account.handle, account.server) == (HANDLE, INSTANCE)


async def test_the_add_page_says_what_the_classic_scopes_grant(signed_in):
    page = await signed_in.get("/me/accounts/add?network=mastodon", headers=HTML)
    assert page.status_code == 200, page.text
    assert "read and write for your account" in page.text
    assert "@ada@mastodon.social" in page.text


@pytest.mark.parametrize("settings", [{"connectors_allow_loopback": True}], indirect=True)
async def test_a_development_server_is_named_with_its_port(signed_in, db):
    """A development portal links accounts of a server on this machine, port and all."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        metadata = router.get("http://127.0.0.1:8443/.well-known/oauth-authorization-server")
        metadata.mock(side_effect=httpx.ConnectError("refused"))
        token = await get_csrf(signed_in, "/me/accounts")
        response = await signed_in.post(
            "/me/accounts/mastodon/authorize",
            data={"csrf_token": token, "server": "@ada@127.0.0.1:8443"},
            headers=HTML,
        )
    assert metadata.called
    assert response.status_code == 502, response.text
    assert "127.0.0.1:8443" in response.text


async def test_a_busy_token_endpoint_says_how_long_to_wait(signed_in, mastodon, db):
    mastodon.token_answer = httpx.Response(429, headers={"retry-after": "42"}, text="busy")
    _, response = await _link(signed_in, mastodon)
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "42"
    assert await _accounts(db) == []


async def test_an_oversized_token_answer_is_not_read(signed_in, mastodon, db):
    huge = b'{"access_token": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    mastodon.token_answer = httpx.Response(200, content=huge)
    _, response = await _link(signed_in, mastodon)
    assert response.status_code == 422, response.text
    assert "sent an answer too large to read" in response.text
    assert await _accounts(db) == []
