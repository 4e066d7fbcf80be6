"""Linking a Bluesky account with an app password, against a real PDS and PLC directory."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.storage.models import LinkedAccount
from tests.fixtures.app import (
    HTML,
    api_sign_up,
    api_token,
    get_csrf,
    make_settings,
    post_form,
)
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork, expire_access


@pytest.fixture
def settings(atproto_network: AtprotoNetwork) -> Settings:
    return make_settings(
        atproto_plc_url=atproto_network.plc_url,
        atproto_resolver_url=atproto_network.pds_url,
        connectors_allow_loopback=True,
    )


@pytest.fixture
async def ada(atproto_network: AtprotoNetwork) -> AtprotoAccount:
    return await atproto_network.create_account("ada", display_name="Ada Lovelace")


async def _sign_in(client: httpx.AsyncClient, handle: str, password: str) -> httpx.Response:
    token = await get_csrf(client, "/me/accounts/add?network=bluesky")
    return await client.post(
        "/me/accounts/bluesky/sign-in",
        data={"csrf_token": token, "handle": handle, "password": password},
        headers=HTML,
    )


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def _pds(
    network: AtprotoNetwork, nsid: str, token: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """One XRPC call whose refusal the test looks at (``network.xrpc`` fails on one)."""
    async with httpx.AsyncClient(base_url=network.pds_url, timeout=15) as http:
        headers = {"Authorization": f"Bearer {token}"}
        if body is None:
            return await http.get(f"/xrpc/{nsid}", headers=headers)
        return await http.post(f"/xrpc/{nsid}", json=body, headers=headers)


async def test_the_add_page_asks_for_an_app_password(signed_in):
    page = await signed_in.get("/me/accounts/add?network=bluesky", headers=HTML)
    assert 'action="/me/accounts/bluesky/sign-in"' in page.text
    assert "App password" in page.text and "never give your main password" in page.text


async def test_link_check_revoke_and_unlink(signed_in, db, app, ada, atproto_network):
    app_password = await atproto_network.create_app_password(ada)
    response = await _sign_in(signed_in, f"@{ada.handle.upper()}", app_password)
    assert response.status_code == 303, response.text
    (account,) = await _accounts(db)
    assert (account.network, account.handle, account.external_id) == (
        "bluesky",
        ada.handle,
        ada.did,
    )
    assert (account.status, account.verified_by) == ("verified", "password")
    assert account.display_name == "Ada Lovelace"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in page.text and f"@{ada.handle}" in page.text

    kept = app.state.links.vault.decrypt_json(account.secrets)
    assert kept["extra"] == {"did": ada.did, "pds": atproto_network.pds_url}
    session = await _pds(atproto_network, "com.atproto.server.getSession", kept["access_token"])
    assert session.json()["did"] == ada.did

    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    (account,) = await _accounts(db)
    assert account.status == "verified" and account.problem == ""

    # An expired access JWT is renewed with the refresh JWT when the account is checked.
    await expire_access(db, app, account, atproto_network)
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/check")).status_code == 303
    (account,) = await _accounts(db)
    renewed = app.state.links.vault.decrypt_json(account.secrets)
    assert account.status == "verified"
    assert renewed["refresh_token"] != kept["refresh_token"]

    # The person revokes the app password on Bluesky: the next check notices.
    listed = await atproto_network.xrpc("com.atproto.server.listAppPasswords", token=ada.access_jwt)
    (name,) = [entry["name"] for entry in listed["passwords"]]
    await atproto_network.xrpc(
        "com.atproto.server.revokeAppPassword", {"name": name}, token=ada.access_jwt
    )
    # The access JWT the portal holds would stay valid until it expires (the PDS checks it
    # without state), so a check renews the session first, and that is refused.
    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    (account,) = await _accounts(db)
    assert account.status == "needs_reconnect", account.problem
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert "needs reconnect" in page.text
    assert f'action="/me/accounts/{account.id}/reconnect"' in page.text

    # "Reconnect" leads back the way the account came: the sign-in form, for this account.
    reconnect = await post_form(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert reconnect.status_code == 303
    assert reconnect.headers["location"] == (
        f"/me/accounts/add?network=bluesky&handle={ada.handle}&reconnect={account.id}"
    )
    # A new app password, given in the sign-in form, reconnects the same account.
    token = await get_csrf(signed_in, f"/me/accounts/add?network=bluesky&reconnect={account.id}")
    again = await signed_in.post(
        "/me/accounts/bluesky/sign-in",
        data={
            "csrf_token": token,
            "handle": ada.handle,
            "password": await atproto_network.create_app_password(ada),
            "reconnect": str(account.id),
        },
        headers=HTML,
    )
    assert again.status_code == 303, again.text
    (account,) = await _accounts(db)
    assert account.status == "verified"

    # Unlinking ends the session on the PDS: its refresh JWT no longer works.
    kept = app.state.links.vault.decrypt_json(account.secrets)
    assert (await post_form(signed_in, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    refreshed = await _pds(
        atproto_network, "com.atproto.server.refreshSession", kept["refresh_token"], {}
    )
    assert refreshed.status_code in (400, 401), refreshed.text
    # The person's own session is untouched.
    own = await _pds(atproto_network, "com.atproto.server.getSession", ada.access_jwt)
    assert own.status_code == 200


async def test_the_main_password_is_refused(signed_in, db, ada):
    response = await _sign_in(signed_in, ada.handle, ada.password)
    assert response.status_code == 422
    assert "Sign in with an app password, not your account" in response.text
    assert await _accounts(db) == []


async def test_a_wrong_app_password_is_refused(signed_in, db, ada, atproto_network):
    await atproto_network.create_app_password(ada)
    response = await _sign_in(signed_in, ada.handle, "abcd-efgh-ijkl-mnop")
    assert response.status_code == 422
    assert "Bluesky refused this handle or app password." in response.text
    assert await _accounts(db) == []


async def test_an_unknown_handle_is_refused(signed_in, db):
    response = await _sign_in(signed_in, "nobody-here.test", "abcd-efgh-ijkl-mnop")
    assert response.status_code == 422
    assert "No account uses the handle @nobody-here.test" in response.text
    assert await _accounts(db) == []


async def test_no_secret_is_stored_in_clear(signed_in, db, app, ada, atproto_network):
    app_password = await atproto_network.create_app_password(ada)
    assert (await _sign_in(signed_in, ada.handle, app_password)).status_code == 303
    (account,) = await _accounts(db)
    kept = app.state.links.vault.decrypt_json(account.secrets)
    dump = ""
    for table in ("linked_accounts", "link_attempts", "users", "api_tokens"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert ada.did in dump
    assert app_password not in dump
    assert kept["access_token"] and kept["access_token"] not in dump
    assert kept["refresh_token"] and kept["refresh_token"] not in dump


async def test_the_api_links_with_an_app_password(client, db, ada, atproto_network):
    await api_sign_up(client)
    auth = {"authorization": f"Bearer {await api_token(client)}"}
    refused = await client.post(
        "/api/v1/me/accounts",
        json={"network": "bluesky", "handle": ada.handle, "password": ada.password},
        headers=auth,
    )
    assert refused.status_code == 422
    assert "app password" in refused.json()["detail"]
    linked = await client.post(
        "/api/v1/me/accounts",
        json={
            "network": "bluesky",
            "handle": ada.did,
            "password": await atproto_network.create_app_password(ada),
        },
        headers=auth,
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["status"] == "verified" and linked.json()["handle"] == f"@{ada.handle}"
    (account,) = await _accounts(db)
    assert (account.handle, account.external_id) == (ada.handle, ada.did)
