"""Signing in and up as people do it: from several places, with look-alike spellings of an
email, from an invitation, and changing the password."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.domain import account, notifications
from portal.domain import number as numbers
from portal.storage.models import User
from tests.fixtures.app import HTML, api_token, csrf_from, get_csrf, make_settings, post_form
from tests.fixtures.smtp import Mailbox

PASSWORD = "correct horse battery"
WRONG = "not the password at all"
# Spellings of bob@example.org that read the same: fullwidth letters, case, a final dot.
SPELLINGS = [
    "bob@example.org",
    "bob@\uff45xample.org",
    "BOB@Example.ORG",
    "\uff42\uff4f\uff42@example.org.",
    "bob@exam\uff50le.org",
]


@pytest.fixture
def settings(smtp_server: Mailbox) -> Settings:
    return make_settings(smtp_url=smtp_server.url, mail_from="Portal <portal@portal.test>")


async def make_account(db: AsyncSession, email: str, name: str = "Bob") -> User:
    user = await account.sign_up(
        db,
        email=email,
        password=PASSWORD,
        display_name=name,
        policy=numbers.AllocationPolicy(),
    )
    await db.commit()
    return user


@asynccontextmanager
async def browser_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
        yield http


async def sign_in(app: FastAPI, address: str, email: str, password: str) -> int:
    """Post the sign-in form from ``address``; the answer's status."""
    async with browser_at(app, address) as browser:
        token = await get_csrf(browser, "/signin")
        response = await browser.post(
            "/signin",
            data={"csrf_token": token, "email": email, "password": password},
            headers=HTML,
        )
        return response.status_code


async def token_from(app: FastAPI, address: str, email: str, password: str) -> int:
    """Ask the API for a token from ``address``; the answer's status."""
    async with browser_at(app, address) as client:
        response = await client.post(
            "/api/v1/tokens", json={"email": email, "password": password, "name": "cli"}
        )
        return response.status_code


async def browser_signed_in(browser: httpx.AsyncClient, email: str) -> None:
    token = await get_csrf(browser, "/signin")
    response = await browser.post(
        "/signin",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        headers=HTML,
    )
    assert response.status_code == 303, response.text


async def users(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(User)) or 0)


# --- one email, however it is spelled ------------------------------------------------------


async def test_sign_up_takes_a_look_alike_for_the_existing_account(app, db, mailbox):
    await make_account(db, "bob@example.org")
    statuses = []
    for spelling in SPELLINGS[1:]:
        async with browser_at(app, "203.0.113.9") as stranger:
            response = await stranger.post(
                "/api/v1/signup",
                json={"email": spelling, "password": PASSWORD, "display_name": "Not Bob"},
            )
        statuses.append(response.status_code)
    # Links mailed to one address from one client are limited, whatever the address's
    # spelling: the fourth waits.
    assert statuses == [202, 202, 202, 429]
    await notifications.sent_mail()
    assert await users(db) == 1
    # Each try reached the owner of the one address, none made an account.
    assert [m["To"] for m in mailbox.messages] == ["bob@example.org"] * 3
    assert all("sign up" in m["Subject"] for m in mailbox.messages)


async def test_look_alike_spellings_count_as_one_email(app, db):
    await make_account(db, "bob@example.org")
    look_alikes = [spelling for spelling in SPELLINGS if spelling.lower() != "bob@example.org"]
    statuses = [
        await token_from(app, f"198.51.100.{i}", look_alikes[i % len(look_alikes)], WRONG)
        for i in range(30)
    ]
    assert statuses == [401] * 30
    # Thirty guesses at one account in a minute, however spelled: the next one waits.
    assert await token_from(app, "198.51.100.200", "bob@example.org", PASSWORD) == 429


async def test_every_spelling_signs_in_to_the_one_account(app, db):
    user = await make_account(db, "bob@xn--bcher-kva.example")
    assert user.email == "bob@bücher.example"
    for i, spelling in enumerate(["BOB@BÜCHER.example", "bob@b\uff55\u0308cher.example."]):
        assert await sign_in(app, f"203.0.113.{i}", spelling, PASSWORD) == 303


# --- guesses from one place do not lock the owner out --------------------------------------


async def test_guesses_from_one_address_do_not_stop_the_owner_at_another(app, db):
    await make_account(db, "bob@example.org")
    attacker, owner = "198.51.100.7", "203.0.113.9"
    tries = [await sign_in(app, attacker, "bob@example.org", WRONG) for _ in range(10)]
    assert tries == [401] * 10
    assert await sign_in(app, attacker, "bob@example.org", PASSWORD) == 429
    assert await sign_in(app, owner, "bob@example.org", PASSWORD) == 303
    assert await token_from(app, owner, "bob@example.org", PASSWORD) == 201


async def test_guesses_from_many_addresses_are_still_bounded(app, db):
    await make_account(db, "bob@example.org")
    statuses = [
        await token_from(app, f"198.51.{i // 10}.{i % 10}", "bob@example.org", WRONG)
        for i in range(60)
    ]
    assert statuses.count(401) == 30
    assert statuses[30:] == [429] * 30


async def test_the_owner_is_told_once_that_someone_guesses_the_password(app, db, mailbox):
    await make_account(db, "bob@example.org")
    await make_account(db, "carol@example.org", name="Carol")
    for _ in range(4):
        assert await sign_in(app, "198.51.100.7", "bob@example.org", WRONG) == 401
    assert await sign_in(app, "198.51.100.8", "carol@example.org", WRONG) == 401
    await notifications.sent_mail()
    assert mailbox.messages == []  # a few mistakes are no news
    for i in range(8):
        assert await sign_in(app, f"198.51.100.{10 + i}", SPELLINGS[i % 5], WRONG) == 401
        assert await token_from(app, f"198.51.101.{10 + i}", "bob@example.org", WRONG) == 401
    await notifications.sent_mail()
    [warning] = mailbox.messages
    assert warning["To"] == "bob@example.org"
    assert "guess your Portal password" in warning["Subject"]
    body = warning.get_payload(decode=True).decode()
    assert "bob@example.org" in body
    assert "https://portal.test/me/password" in body
    assert WRONG not in body
    # The owner still signs in, and wrong guesses at an unknown email tell nobody.
    assert await sign_in(app, "203.0.113.9", "bob@example.org", PASSWORD) == 303
    for i in range(10):
        await sign_in(app, f"198.51.102.{i}", "nobody@example.org", WRONG)
    await notifications.sent_mail()
    assert len(mailbox.messages) == 1


# --- an invitation survives signing up ---------------------------------------------------


async def test_signing_up_from_an_invitation_comes_back_to_it(app, client, db, mailbox):
    await make_account(db, "ada@example.org", name="Ada Lovelace")
    await browser_signed_in(client, "ada@example.org")
    made = await post_form(client, "/me/invites", page="/me/invites")
    link = re.search(r'data-testid="invite-link">[^<]*(/i/[^<]+)<', made.text)
    assert link
    path = link.group(1)
    async with browser_at(app, "203.0.113.5") as newcomer:
        invite = await newcomer.get(path, headers=HTML)
        signup_link = re.search(r'href="(/signup\?next=[^"]*)"', invite.text)
        assert signup_link and signup_link.group(1) == f"/signup?next={path}"
        form = await newcomer.get(signup_link.group(1), headers=HTML)
        assert f'name="next" value="{path}"' in form.text
        assert f'href="/signin?next={path}"' in form.text
        created = await newcomer.post(
            "/signup",
            data={
                "csrf_token": csrf_from(form.text),
                "email": "bob@example.org",
                "password": PASSWORD,
                "display_name": "Bob",
                "next": path,
            },
            headers=HTML,
        )
        assert created.status_code == 303
        await notifications.sent_mail()
        [letter] = mailbox.messages
        confirm = re.search(
            r"https://portal\.test(/email/confirm\S+)", letter.get_payload(decode=True).decode()
        )
        assert confirm
        page = await newcomer.get(confirm.group(1), headers=HTML)
        assert f'name="next" value="{path}"' in page.text
        confirmed = await newcomer.post(
            "/email/confirm",
            data={
                "csrf_token": csrf_from(page.text),
                "token": re.search(r'name="token" value="([^"]+)"', page.text).group(1),
                "next": path,
            },
            headers=HTML,
        )
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == path
        page = await newcomer.get(path, headers=HTML)
        accepted = await newcomer.post(
            path, data={"csrf_token": csrf_from(page.text)}, headers=HTML
        )
        assert accepted.status_code == 303
        contacts = await newcomer.get("/me/contacts", headers=HTML)
        assert "Ada Lovelace" in contacts.text


async def test_the_sign_in_page_carries_the_invitation_to_sign_up(client):
    page = await client.get("/signin?next=/i/abcdefghijklmnop", headers=HTML)
    assert 'href="/signup?next=/i/abcdefghijklmnop"' in page.text


async def test_sign_up_never_sends_anyone_off_site(client, mailbox):
    for target in ("https://evil.example/", "//evil.example/"):
        form = await client.get(f"/signup?next={target}", headers=HTML)
        assert "evil.example" not in form.text
    await client.post(
        "/signup",
        data={
            "csrf_token": csrf_from(form.text),
            "email": "bob@example.org",
            "password": PASSWORD,
            "display_name": "Bob",
            "next": "https://evil.example/",
        },
        headers=HTML,
    )
    await notifications.sent_mail()
    [letter] = mailbox.messages
    assert "evil.example" not in letter.get_payload(decode=True).decode()


# --- a new password can end the API tokens too ---------------------------------------------


async def test_changing_the_password_revokes_tokens_when_asked(app, client, db):
    await make_account(db, "ada@example.org")
    await browser_signed_in(client, "ada@example.org")
    token = await api_token(client, email="ada@example.org")
    bearer = {"authorization": f"Bearer {token}"}
    async with browser_at(app, "203.0.113.8") as laptop:
        await browser_signed_in(laptop, "ada@example.org")
        assert (await laptop.get("/me", headers=HTML)).status_code == 200

        form = await client.get("/me/password", headers=HTML)
        box = re.search(r"<input[^>]*name=\"keep_tokens\"[^>]*>", form.text)
        assert box and "checked" not in box.group(0)
        changed = await client.post(
            "/me/password",
            data={
                "csrf_token": csrf_from(form.text),
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase",
            },
            headers=HTML,
        )
        assert changed.status_code == 200
        assert "API tokens were revoked" in changed.text
        assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401
        # This browser stays signed in; the laptop is signed out.
        assert (await client.get("/me", headers=HTML)).status_code == 200
        assert (await laptop.get("/me", headers=HTML)).status_code == 303


@pytest.mark.parametrize(
    ("box", "api_status"),
    [({"keep_tokens": "1"}, 200), ({}, 401)],
    ids=["ticked-keeps-them", "missing-revokes-them"],
)
async def test_changing_the_password_keeps_the_tokens_only_when_ticked(client, db, box, api_status):
    """A form that lost the field (an old page, a script) does not fall open: tokens go."""
    await make_account(db, "ada@example.org")
    await browser_signed_in(client, "ada@example.org")
    token = await api_token(client, email="ada@example.org")
    changed = await post_form(
        client,
        "/me/password",
        page="/me/password",
        current_password=PASSWORD,
        new_password="a brand new passphrase",
        **box,
    )
    assert changed.status_code == 200
    assert ("API tokens were revoked" in changed.text) is (api_status == 401)
    bearer = {"authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == api_status


async def test_a_refused_password_change_keeps_the_choice(client, db):
    await make_account(db, "ada@example.org")
    await browser_signed_in(client, "ada@example.org")
    refused = await post_form(
        client,
        "/me/password",
        page="/me/password",
        current_password="not my password",
        new_password="a brand new passphrase",
        keep_tokens="1",
    )
    assert refused.status_code == 422
    box = re.search(r"<input[^>]*name=\"keep_tokens\"[^>]*>", refused.text)
    assert box and "checked" in box.group(0)


async def test_the_api_revokes_tokens_when_asked(client, db):
    await make_account(db, "ada@example.org")
    kept, other = await api_token(client), await api_token(client)

    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    keep = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(kept),
    )
    assert keep.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 200
    revoke = await client.post(
        "/api/v1/me/password",
        json={
            "current_password": "a brand new passphrase",
            "new_password": "another new passphrase",
            "revoke_tokens": True,
        },
        headers=bearer(kept),
    )
    assert revoke.status_code == 204
    for token in (kept, other):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
