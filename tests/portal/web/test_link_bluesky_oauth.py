"""Linking a Bluesky account by AT Protocol OAuth (PAR, PKCE, DPoP) on a real PDS, end to end
through the web routes.

The portal runs as a loopback client (its address is ``http://127.0.0.1:…``), the way the
network allows a client that publishes no metadata document; the PDS's own authorization
page is driven as a browser drives it (tests/fixtures/atproto.py).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.atproto import DPoP
from portal.config import Settings
from portal.storage.models import LinkedAccount, utcnow
from tests.fixtures.app import (
    HTML,
    api_sign_up,
    api_token,
    authorization_url,
    get_csrf,
    make_settings,
    post_form,
    start_link,
)
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def settings(atproto_network: AtprotoNetwork) -> Settings:
    return make_settings(
        base_url=BASE,
        atproto_plc_url=atproto_network.plc_url,
        atproto_resolver_url=atproto_network.pds_url,
        connectors_allow_loopback=True,
    )


@pytest.fixture
async def person(atproto_network: AtprotoNetwork) -> AtprotoAccount:
    return await atproto_network.create_account("ada", display_name="Ada L.", description="Hi")


async def _authorization_url(client: httpx.AsyncClient, handle: str) -> str:
    return await authorization_url(client, "bluesky", handle)


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE, url
    return f"{parts.path}?{parts.query}"


async def _link(
    client: httpx.AsyncClient, network: AtprotoNetwork, person: AtprotoAccount
) -> tuple[str, httpx.Response]:
    url = await _authorization_url(client, person.handle)
    callback = await network.authorize(url, person)
    return callback, await client.get(_local(callback), headers=HTML)


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def test_the_request_is_pushed_and_the_browser_carries_only_its_reference(
    signed_in, atproto_network, person
):
    url = await _authorization_url(signed_in, person.handle)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == atproto_network.pds_url
    assert set(query) == {"client_id", "request_uri"}
    assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
    client_id = urlsplit(query["client_id"][0])
    assert (client_id.scheme, client_id.netloc, client_id.path) == ("http", "localhost", "")
    assert parse_qs(client_id.query)["redirect_uri"] == [f"{BASE}/me/accounts/bluesky/callback"]


async def test_a_full_link_refresh_revoke_and_unlink(signed_in, atproto_network, person, db, app):
    callback, response = await _link(signed_in, atproto_network, person)
    assert response.status_code == 303, response.text
    # Not through the guided start yet: linking goes back to it.
    assert response.headers["location"] == "/me/start"
    [account] = await _accounts(db)
    assert (account.network, account.status, account.verified_by) == (
        "bluesky",
        "verified",
        "oauth",
    )
    assert (account.handle, account.external_id) == (person.handle, person.did)
    assert account.display_name == "Ada L."
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in page.text and f"@{person.handle}" in page.text

    # The same answer again (replayed state and code) links nothing more.
    replay = await signed_in.get(_local(callback), headers=HTML)
    assert replay.status_code == 422 and "already used" in replay.text

    # A token about to expire is refreshed (with a DPoP proof) when the account is checked.
    services = app.state.links
    before = services.vault.decrypt_json(account.secrets)
    account.token_expires_at = utcnow() + timedelta(seconds=30)
    await db.commit()
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/check")).status_code == 303
    [account] = await _accounts(db)
    after = services.vault.decrypt_json(account.secrets)
    assert account.status == "verified"
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert after["extra"]["dpop"]["jwk"] == before["extra"]["dpop"]["jwk"]

    # The person ends the portal's session from their account page: needs reconnect.
    assert await atproto_network.revoke_oauth_sessions(person) == 1
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    [account] = await _accounts(db)
    assert account.status == "needs_reconnect"

    # One click reconnects it: a new request pushed for the same account.
    token = await get_csrf(signed_in, "/me/accounts")
    again = await signed_in.post(
        f"/me/accounts/{account.id}/reconnect",
        data={"csrf_token": token},
        headers={**HTML, "hx-request": "true"},
    )
    assert again.status_code == 204, again.text
    back = await atproto_network.authorize(again.headers["hx-redirect"], person)
    assert (await signed_in.get(_local(back), headers=HTML)).status_code == 303
    [account] = await _accounts(db)
    assert account.status == "verified"

    # Unlinking revokes the tokens at the PDS: its refresh token no longer works.
    kept = services.vault.decrypt_json(account.secrets)
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    async with services.http() as http:
        dpop = DPoP(kept["extra"]["dpop"])
        refused = await dpop.request(
            http,
            "POST",
            kept["extra"]["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": kept["refresh_token"],
                "client_id": services.atproto_client().client_id,
            },
        )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_an_answer_from_another_server_links_nothing(signed_in, atproto_network, person, db):
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, person)
    query = parse_qs(urlsplit(callback).query)
    assert query["iss"] == [atproto_network.pds_url]
    forged = {"state": query["state"][0], "code": query["code"][0], "iss": "https://evil.example"}
    response = await signed_in.get(
        f"/me/accounts/bluesky/callback?{urlencode(forged)}", headers=HTML
    )
    assert response.status_code == 422
    assert "did not come from the Bluesky server" in response.text
    assert await _accounts(db) == []


async def test_an_answer_without_its_issuer_links_nothing(signed_in, atproto_network, person, db):
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, person)
    query = parse_qs(urlsplit(callback).query)
    bare = {"state": query["state"][0], "code": query["code"][0]}
    response = await signed_in.get(f"/me/accounts/bluesky/callback?{urlencode(bare)}", headers=HTML)
    assert response.status_code == 422
    assert await _accounts(db) == []


async def test_a_wrong_state_links_nothing(signed_in, atproto_network, person, db):
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, person)
    query = parse_qs(urlsplit(callback).query)
    wrong = {"state": "x" * 43, "code": query["code"][0], "iss": query["iss"][0]}
    response = await signed_in.get(
        f"/me/accounts/bluesky/callback?{urlencode(wrong)}", headers=HTML
    )
    assert response.status_code == 422
    assert "does not belong to a link you started" in response.text
    assert await _accounts(db) == []


async def test_signing_in_as_another_account_links_nothing(signed_in, atproto_network, person, db):
    """The request named one account (login hint); the person signs in as another."""
    other = await atproto_network.create_account("bob")
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, other)
    response = await signed_in.get(_local(callback), headers=HTML)
    assert response.status_code == 422
    assert "another account than the one you named" in response.text
    assert await _accounts(db) == []


async def test_declining_on_the_pds_links_nothing(signed_in, atproto_network, person, db):
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, person, approve=False)
    assert parse_qs(urlsplit(callback).query)["error"] == ["access_denied"]
    response = await signed_in.get(_local(callback), headers=HTML)
    assert response.status_code == 422
    assert "did not allow the link" in response.text
    assert await _accounts(db) == []


async def test_an_unknown_handle_is_a_form_error(signed_in, atproto_network, db):
    response = await start_link(signed_in, "bluesky", "nobody-here.test")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert await _accounts(db) == []


async def test_tokens_and_the_key_are_encrypted_at_rest(
    signed_in, atproto_network, person, db, app
):
    await _link(signed_in, atproto_network, person)
    [account] = await _accounts(db)
    kept = app.state.links.vault.decrypt_json(account.secrets)
    dump = ""
    for table in ("linked_accounts", "link_attempts", "oauth_apps", "users"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert kept["access_token"] and kept["access_token"] not in dump
    assert kept["refresh_token"] and kept["refresh_token"] not in dump
    assert kept["extra"]["dpop"]["jwk"]["d"] not in dump


async def test_the_api_starts_the_same_flow(client, atproto_network, person):
    await api_sign_up(client)
    token = await api_token(client)
    response = await client.post(
        "/api/v1/me/accounts/bluesky/authorize",
        json={"server": person.handle},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert parse_qs(urlsplit(url).query)["request_uri"][0].startswith("urn:")


async def test_a_link_that_fails_leaves_no_session_on_the_pds(
    signed_in, atproto_network, person, db
):
    """The tokens were issued before the link failed: they are revoked at once."""
    other = await atproto_network.create_account("carol")
    url = await _authorization_url(signed_in, person.handle)
    callback = await atproto_network.authorize(url, other)
    response = await signed_in.get(_local(callback), headers=HTML)
    assert response.status_code == 422
    assert await _accounts(db) == []
    assert await atproto_network.revoke_oauth_sessions(other) == 0


async def test_reconnecting_ends_the_session_it_replaces(signed_in, atproto_network, person, db):
    _, response = await _link(signed_in, atproto_network, person)
    assert response.status_code == 303
    [account] = await _accounts(db)
    token = await get_csrf(signed_in, "/me/accounts")
    again = await signed_in.post(
        f"/me/accounts/{account.id}/reconnect",
        data={"csrf_token": token},
        headers={**HTML, "hx-request": "true"},
    )
    assert again.status_code == 204, again.text
    back = await atproto_network.authorize(again.headers["hx-redirect"], person)
    assert (await signed_in.get(_local(back), headers=HTML)).status_code == 303
    # The new session works, and it is the only one left on the PDS.
    await post_form(signed_in, f"/me/accounts/{account.id}/check")
    [account] = await _accounts(db)
    assert account.status == "verified"
    assert await atproto_network.revoke_oauth_sessions(person) == 1
