"""Linking through a real OpenID Connect provider, end to end through the web routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.storage.models import LinkAttempt, LinkedAccount, utcnow
from tests.fixtures.app import HTML, get_csrf, make_settings, post_form, web_sign_up
from tests.fixtures.oidc import OIDCProvider


@pytest.fixture
def settings(oidc_provider: OIDCProvider) -> Settings:
    return make_settings(oidc_providers=[oidc_provider.setting()], connectors_allow_loopback=True)


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The person's browser at the provider (it keeps the provider's cookies)."""
    async with httpx.AsyncClient(timeout=20) as http:
        yield http


async def _start(client: httpx.AsyncClient, path: str = "/me/accounts/oidc/authorize") -> str:
    token = await get_csrf(client, "/me/accounts")
    response = await client.post(
        path,
        data={"csrf_token": token, "server": "testid"},
        headers={**HTML, "hx-request": "true"},
    )
    assert response.status_code == 204, response.text
    url: str = response.headers["hx-redirect"]
    return url


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "portal.test", url
    return f"{parts.path}?{parts.query}"


async def _link(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, oidc: OIDCProvider
) -> tuple[str, httpx.Response]:
    url = await _start(client)
    callback = await oidc.complete_login(browser, url, "ada")
    return callback, await client.get(_local(callback), headers=HTML)


async def _only(db: AsyncSession) -> LinkedAccount:
    db.expire_all()
    return (await db.scalars(select(LinkedAccount))).one()


async def test_the_authorization_request_is_pkce_state_and_nonce(signed_in, oidc_provider):
    url = await _start(signed_in)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(oidc_provider.issuer)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == ["https://portal.test/me/accounts/oidc/callback"]
    assert "offline_access" in query["scope"][0].split()
    assert query["prompt"] == ["consent"]


async def test_a_full_link_refresh_revoke_reconnect_and_unlink(
    signed_in, browser, oidc_provider, db, app
):
    callback, response = await _link(signed_in, browser, oidc_provider)
    assert response.status_code == 303
    # Not through the guided start yet: linking goes back to it.
    assert response.headers["location"] == "/me/start"
    account = await _only(db)
    assert (account.network, account.status, account.verified_by) == ("oidc", "verified", "oauth")
    assert account.server == "testid" and account.external_id == f"ada@{oidc_provider.issuer}"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in page.text

    # The same answer a second time (a replayed code and state) links nothing.
    replay = await signed_in.get(_local(callback), headers=HTML)
    assert replay.status_code == 422
    assert "already used" in replay.text

    # Refresh: a token about to expire is renewed when the account is checked.
    before = account.secrets
    account.token_expires_at = utcnow() + timedelta(seconds=30)
    await db.commit()
    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    account = await _only(db)
    assert account.status == "verified" and account.secrets != before
    assert account.token_expires_at > utcnow() + timedelta(minutes=5)

    # The person revokes the access at the provider: the account needs reconnecting.
    services = app.state.links
    secrets = services.vault.decrypt_json(account.secrets)
    await oidc_provider.revoke(browser, secrets["refresh_token"], token_type_hint="refresh_token")
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    account = await _only(db)
    assert account.status == "needs_reconnect"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert "needs reconnect" in page.text and f"/me/accounts/{account.id}/reconnect" in page.text

    # One click reconnects it, and it is the same account again.
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    callback = await oidc_provider.complete_login(browser, url, "ada")
    assert (await signed_in.get(_local(callback), headers=HTML)).status_code == 303
    account = await _only(db)
    assert account.status == "verified"

    # Unlinking revokes the tokens at the provider.
    secrets = services.vault.decrypt_json(account.secrets)
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert (await db.scalars(select(LinkedAccount))).all() == []
    refused = await oidc_provider.refresh(browser, secrets["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_a_wrong_state_links_nothing(signed_in, browser, oidc_provider, db):
    url = await _start(signed_in)
    callback = await oidc_provider.complete_login(browser, url, "ada")
    forged = _local(callback).replace("state=", "state=x")
    response = await signed_in.get(forged, headers=HTML)
    assert response.status_code == 422
    assert "does not belong to a link you started" in response.text
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def test_an_answer_for_someone_else_links_nothing(client, browser, oidc_provider, db):
    await web_sign_up(client, email="eve@example.org")
    url = await _start(client)
    callback = await oidc_provider.complete_login(browser, url, "eve")
    client.cookies.clear()
    await web_sign_up(client, email="mallory@example.org")
    response = await client.get(_local(callback), headers=HTML)
    assert response.status_code == 422
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def test_a_mismatched_nonce_links_nothing(signed_in, browser, oidc_provider, db, app):
    url = await _start(signed_in)
    services = app.state.links
    attempt = (await db.scalars(select(LinkAttempt))).one()
    kept = services.vault.decrypt_json(attempt.secrets)
    attempt.secrets = services.vault.encrypt_json({**kept, "nonce": "another-nonce"})
    await db.commit()
    callback = await oidc_provider.complete_login(browser, url, "ada")
    response = await signed_in.get(_local(callback), headers=HTML)
    assert response.status_code == 422
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def test_declining_at_the_provider_links_nothing(signed_in, db):
    url = await _start(signed_in)
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = await signed_in.get(
        f"/me/accounts/oidc/callback?state={state}&error=access_denied", headers=HTML
    )
    assert response.status_code == 422
    assert "did not allow the link" in response.text
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def test_tokens_are_encrypted_at_rest(signed_in, browser, oidc_provider, db, app):
    await _link(signed_in, browser, oidc_provider)
    account = await _only(db)
    services = app.state.links
    secrets = services.vault.decrypt_json(account.secrets)
    dump = ""
    for table in ("linked_accounts", "link_attempts", "oauth_apps", "users", "api_tokens"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert secrets["access_token"] and secrets["access_token"] not in dump
    assert secrets["refresh_token"] and secrets["refresh_token"] not in dump
    assert oidc_provider.client_secret not in dump
    assert "correct horse battery" not in dump


async def test_the_api_starts_the_same_flow(client, oidc_provider):
    from tests.fixtures.app import api_sign_up, api_token

    await api_sign_up(client)
    token = await api_token(client)
    response = await client.post(
        "/api/v1/me/accounts/oidc/authorize",
        json={"server": "testid"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["url"].startswith(oidc_provider.issuer)
    unknown = await client.post(
        "/api/v1/me/accounts/oidc/authorize",
        json={"server": "nope"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert unknown.status_code == 422
    assert "Choose one of the sign-in providers" in unknown.json()["detail"]


async def test_reconnecting_leaves_the_new_tokens_working(
    signed_in, browser, oidc_provider, db, app
):
    """The provider gives the new sign-in the grant of the first one: revoking the tokens it
    replaces would end the new tokens too, so they are left to expire."""
    _, response = await _link(signed_in, browser, oidc_provider)
    assert response.status_code == 303
    account = await _only(db)
    url = await _start(signed_in, f"/me/accounts/{account.id}/reconnect")
    callback = await oidc_provider.complete_login(browser, url, "ada")
    assert (await signed_in.get(_local(callback), headers=HTML)).status_code == 303
    account = await _only(db)
    new = app.state.links.vault.decrypt_json(account.secrets)
    assert (await oidc_provider.introspect(browser, new["access_token"]))["active"]
    assert (await oidc_provider.refresh(browser, new["refresh_token"])).status_code == 200
