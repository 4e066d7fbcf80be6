"""Linking an XMPP account by signing in to a real server (Prosody), through the web routes."""

from __future__ import annotations

import secrets

import httpx
import pytest
from sqlalchemy import select, text

from portal.config import Settings
from portal.storage.models import LinkedAccount, Notification
from tests.fixtures.app import HTML, get_csrf, make_settings, post_form, web_sign_up
from tests.fixtures.xmpp import XMPPServer


@pytest.fixture
def settings(xmpp_server: XMPPServer) -> Settings:
    """The test server listens on loopback, which the portal reaches only when allowed; every
    XMPP connection goes to it."""
    return make_settings(
        connectors_allow_loopback=True,
        xmpp_server=f"{xmpp_server.host}:{xmpp_server.port}",
        xmpp_ca_file=str(xmpp_server.ca_file),
    )


@pytest.fixture
def xmpp_account(xmpp_server: XMPPServer) -> tuple[str, str]:
    password = secrets.token_urlsafe(12)
    return xmpp_server.register(f"ada{secrets.token_hex(3)}", password), password


async def _sign_in(client: httpx.AsyncClient, handle: str, password: str) -> httpx.Response:
    token = await get_csrf(client, "/me/accounts/add?network=xmpp")
    return await client.post(
        "/me/accounts/xmpp/sign-in",
        data={"csrf_token": token, "handle": handle, "password": password},
        headers=HTML,
    )


async def test_signing_in_links_a_verified_account(client, db, xmpp_account):
    jid, password = xmpp_account
    await web_sign_up(client)
    response = await _sign_in(client, jid.upper(), password)
    assert response.status_code == 303, response.text
    account = (await db.scalars(select(LinkedAccount))).one()
    assert (account.handle, account.status, account.verified_by) == (jid, "verified", "password")
    dump = ""
    for table in ("linked_accounts", "link_attempts", "users"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert password not in dump


async def test_a_wrong_password_links_nothing(client, db, xmpp_account):
    jid, _ = xmpp_account
    await web_sign_up(client)
    response = await _sign_in(client, jid, "not the password")
    assert response.status_code == 422
    assert "refused this address or password" in response.text
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def test_check_after_the_account_is_gone_needs_reconnect_then_unlink(
    client, db, xmpp_account, xmpp_server
):
    jid, password = xmpp_account
    await web_sign_up(client)
    assert (await _sign_in(client, jid, password)).status_code == 303
    account = (await db.scalars(select(LinkedAccount))).one()
    assert (await post_form(client, f"/me/accounts/{account.id}/check")).status_code == 303
    db.expire_all()
    assert (await db.scalars(select(LinkedAccount))).one().status == "verified"

    xmpp_server.delete(jid)
    for _ in range(2):  # its owner is told once, when it stops working, not at every check
        assert (await post_form(client, f"/me/accounts/{account.id}/check")).status_code == 303
    db.expire_all()
    assert (await db.scalars(select(LinkedAccount))).one().status == "needs_reconnect"
    told = await db.scalars(
        select(Notification.kind).where(Notification.user_id == account.user_id)
    )
    assert told.all() == ["needs_reconnect"]
    page = await client.get("/me/accounts", headers=HTML)
    assert 'data-status="needs_reconnect"' in page.text
    assert f'action="/me/accounts/{account.id}/reconnect"' in page.text

    assert (await post_form(client, f"/me/accounts/{account.id}/remove")).status_code == 303
    db.expire_all()
    assert (await db.scalars(select(LinkedAccount))).all() == []
