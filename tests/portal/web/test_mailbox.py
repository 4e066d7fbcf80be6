"""Connecting the mailbox of a verified email address, on the web and in the API, against a
real IMAP server (Dovecot) and a real SMTP submission server (aiosmtpd)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Context
from portal.config import Settings
from portal.domain.linking import mailbox, oauth
from portal.storage.models import LinkedAccount
from tests.connectors.test_mailbox import CONFIG
from tests.fixtures.app import HTML, api_token, get_csrf, make_settings, post_form
from tests.fixtures.feeds import serving, static
from tests.fixtures.imap import IMAPServer
from tests.fixtures.peers import free_port
from tests.fixtures.smtp import Submission

_numbers = itertools.count(1)


@pytest.fixture
def settings() -> Settings:
    """The test servers listen on loopback, which the portal reaches only when allowed."""
    return make_settings(connectors_allow_loopback=True)


@pytest.fixture
def login(imap_server: IMAPServer, submission_server: Submission) -> tuple[str, str]:
    """A mailbox on both servers: its login name and password."""
    number = next(_numbers)
    password = f"correct horse {number} ü"  # not ASCII: logs in by SASL PLAIN, not LOGIN
    name = imap_server.add_user(f"linked{number}", password)
    submission_server.add_user(name, password)
    return name, password


async def _verified_email(client: httpx.AsyncClient, db: AsyncSession) -> LinkedAccount:
    """An email address on my card, proven (its code is tested elsewhere)."""
    added = await post_form(client, "/me/accounts", network="email", handle="ada@example.org")
    assert added.status_code == 303, added.text
    account = (await db.scalars(select(LinkedAccount))).one()
    account.status, account.verified_by = "verified", "code"
    await db.flush()
    return account


def _form(imap_server: IMAPServer, smtp: Submission, name: str, password: str) -> dict[str, str]:
    return {
        "imap_host": imap_server.host,
        "imap_port": str(imap_server.port),
        "imap_security": "none",
        "smtp_host": smtp.host,
        "smtp_port": str(smtp.port),
        "smtp_security": "none",
        "username": name,
        "password": password,
    }


async def _submit(client: httpx.AsyncClient, account_id: int, form: dict[str, str]):
    token = await get_csrf(client, "/me")
    return await client.post(
        f"/me/accounts/{account_id}/mailbox", data={"csrf_token": token, **form}, headers=HTML
    )


async def test_a_mailbox_is_connected_once_both_servers_take_the_login(
    signed_in, db, imap_server, submission_server, login
):
    account = await _verified_email(signed_in, db)
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert f'href="/me/accounts/{account.id}/mailbox"' in listing.text
    assert "Connect your mailbox" in listing.text

    name, password = login
    response = await _submit(
        signed_in, account.id, _form(imap_server, submission_server, name, password)
    )
    assert response.status_code == 303, response.text
    await db.refresh(account)
    assert mailbox.connected(account)
    stored = repr((await db.execute(text("SELECT * FROM linked_accounts"))).all())
    assert password not in stored and name not in stored and str(imap_server.port) not in stored
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert "mailbox connected" in listing.text
    assert f'action="/me/accounts/{account.id}/mailbox/disconnect"' in listing.text

    # The form shows what is saved, never the password; an empty password keeps it.
    page = await signed_in.get(f"/me/accounts/{account.id}/mailbox", headers=HTML)
    assert f'value="{imap_server.port}"' in page.text and password not in page.text
    form = _form(imap_server, submission_server, name, "")
    assert (await _submit(signed_in, account.id, form)).status_code == 303

    gone = await post_form(signed_in, f"/me/accounts/{account.id}/mailbox/disconnect")
    assert gone.status_code == 303
    await db.refresh(account)
    assert (account.secrets, account.status) == (None, "verified")


async def test_a_mailbox_that_no_longer_takes_its_password_is_reconnected_on_its_page(
    app, signed_in, db, imap_server, submission_server, login
):
    account = await _verified_email(signed_in, db)
    name, password = login
    form = _form(imap_server, submission_server, name, password)
    assert (await _submit(signed_in, account.id, form)).status_code == 303
    # Sending from it found the password refused (as the worker finds it).
    await db.refresh(account)
    await oauth.connection_lost(db, app.state.links, account, "Connect your mailbox again.")
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert "needs reconnect" in listing.text
    assert f'action="/me/accounts/{account.id}/reconnect"' in listing.text
    # It can be let go instead; there is no connection to check but the mailbox's.
    assert f'action="/me/accounts/{account.id}/mailbox/disconnect"' in listing.text
    assert f'action="/me/accounts/{account.id}/check"' not in listing.text
    assert "mailbox connected" not in listing.text

    # Reconnecting asks for the mailbox's password, not for a code the address needs no more.
    reconnect = await post_form(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert reconnect.status_code == 303
    assert reconnect.headers["location"] == f"/me/accounts/{account.id}/mailbox"
    page = await signed_in.get(reconnect.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert f'value="{imap_server.port}"' in page.text and password not in page.text
    assert (await _submit(signed_in, account.id, form)).status_code == 303
    await db.refresh(account)
    assert (account.status, account.problem) == ("verified", "")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password": "not the password"}, "password", "The IMAP server refused this login"),
        ({"imap_port": "free"}, "imap_host", "cannot be reached on port"),
        ({"smtp_security": "tls"}, "smtp_security", "No secure connection could be made"),
        ({"imap_port": "70000"}, "imap_port", "The port is a number from 1 to 65535."),
        ({"imap_host": "not a host"}, "imap_host", "is not a valid server name"),
    ],
)
async def test_a_refused_login_is_said_next_to_its_field_and_nothing_is_kept(
    signed_in, db, imap_server, submission_server, login, change, field, message
):
    account = await _verified_email(signed_in, db)
    form = _form(imap_server, submission_server, *login)
    form.update({k: str(free_port()) if v == "free" else v for k, v in change.items()})
    response = await _submit(signed_in, account.id, form)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    assert login[1] not in response.text
    await db.refresh(account)
    assert account.secrets is None


async def test_a_wrong_smtp_password_is_told_as_the_smtp_servers(
    signed_in, db, imap_server, submission_server, login
):
    account = await _verified_email(signed_in, db)
    name, password = login
    submission_server.logins[name] = "another one"
    response = await _submit(
        signed_in, account.id, _form(imap_server, submission_server, name, password)
    )
    assert response.status_code == 422
    assert "The SMTP server refused this login name or password." in response.text


async def test_an_unverified_or_other_account_has_no_mailbox(signed_in, db):
    added = await post_form(signed_in, "/me/accounts", network="email", handle="ada@example.org")
    assert added.status_code == 303
    account = (await db.scalars(select(LinkedAccount))).one()
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert "Connect your mailbox" not in listing.text
    form = {"imap_host": "imap.example.org", "imap_port": "993", "imap_security": "tls"}
    form |= {"smtp_host": "smtp.example.org", "smtp_port": "465", "smtp_security": "tls"}
    response = await _submit(signed_in, account.id, {**form, "username": "ada", "password": "x"})
    assert response.status_code == 409


async def test_the_form_offers_what_the_domain_publishes_or_guesses(signed_in, db, monkeypatch):
    account = await _verified_email(signed_in, db)
    async with serving({"/config": static(CONFIG)}) as site:
        monkeypatch.setattr(
            mailbox, "autoconfig_urls", lambda _: [site.url("/missing"), site.url("/config")]
        )
        found = await signed_in.get(f"/me/accounts/{account.id}/mailbox", headers=HTML)
        monkeypatch.setattr(mailbox, "autoconfig_urls", lambda _: [site.url("/missing")])
        guessed = await signed_in.get(f"/me/accounts/{account.id}/mailbox", headers=HTML)
    assert found.status_code == 200
    assert 'value="mail.example.org"' in found.text and 'value="smtp.example.org"' in found.text
    assert 'value="587"' in found.text and "Your provider publishes these settings." in found.text
    assert 'value="imap.example.org"' in guessed.text and 'value="465"' in guessed.text
    assert "these are guesses" in guessed.text
    assert 'value="none"' in found.text  # this portal may reach servers on its own machine


# -- the API ---------------------------------------------------------------------------------


async def test_the_api_connects_refuses_and_disconnects(
    signed_in, db, imap_server, submission_server, login
):
    account = await _verified_email(signed_in, db)
    headers = {"authorization": f"Bearer {await api_token(signed_in)}"}
    name, password = login
    body = {
        "imap": {"host": imap_server.host, "port": imap_server.port, "security": "none"},
        "smtp": {
            "host": submission_server.host,
            "port": submission_server.port,
            "security": "none",
        },
        "username": name,
        "password": password + "?",
    }
    path = f"/api/v1/me/accounts/{account.id}/mailbox"
    refused = await signed_in.put(path, json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "The IMAP server refused this login name or password."

    connected = await signed_in.put(path, json={**body, "password": password}, headers=headers)
    assert connected.status_code == 200, connected.text
    assert connected.json()["mailbox"] is True
    shown = await signed_in.get(path, headers=headers)
    assert shown.json() == {
        "connected": True,
        "found_by": "saved",
        "imap": body["imap"],
        "smtp": body["smtp"],
        "username": name,
    }
    assert password not in shown.text
    [listed] = (await signed_in.get("/api/v1/me/accounts", headers=headers)).json()
    assert listed["mailbox"] is True and password not in str(listed)

    gone = await signed_in.delete(path, headers=headers)
    assert gone.status_code == 200 and gone.json()["mailbox"] is False


async def test_a_private_address_is_refused_where_loopback_is_not_allowed(
    app, signed_in, db, imap_server, submission_server, login
):
    account = await _verified_email(signed_in, db)
    app.state.links = replace(app.state.links, context=Context())  # a portal in production
    form = _form(imap_server, submission_server, *login)
    form["imap_security"] = form["smtp_security"] = "tls"
    response = await _submit(signed_in, account.id, form)
    assert response.status_code == 422, response.text
    assert "is a private address, which Portal does not connect to" in response.text
