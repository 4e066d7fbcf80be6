"""Writing to a person from their page, without script: the messengers they offer, the form,
and the message's page following its copies out to Synapse and Prosody."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import reach
from portal.storage.models import User
from tests.fixtures import messaging
from tests.fixtures.app import HTML, get_csrf, my_number
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import messenger
from tests.fixtures.publishing import post_worker
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

settings = messaging.settings


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_a_message_is_written_from_the_persons_page_and_followed(
    signed_in: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    me = await db.scalar(select(User).where(User.number == await my_number(signed_in)))
    assert me is not None
    await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada", user=me)
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    await people.befriend(db, me, grace.user)
    await db.commit()

    card = await signed_in.get(f"/n/{grace.user.number}", headers=HTML)
    assert f'href="/messages/new?to={grace.user.number}"' in card.text
    form = await signed_in.get(f"/messages/new?to={grace.user.number}", headers=HTML)
    assert form.status_code == 200
    assert re.findall(r'name="networks" value="(\w+)" checked', form.text) == ["matrix", "xmpp"]

    token = await get_csrf(signed_in, f"/messages/new?to={grace.user.number}")
    sent = await signed_in.post(
        "/messages",
        data={
            "csrf_token": token,
            "to": grace.user.number,
            "text": "Lunch?",
            "networks": ["xmpp"],
            "mode": "all",
        },
        headers=HTML,
    )
    assert sent.status_code == 303, sent.text
    page = await signed_in.get(sent.headers["location"], headers=HTML)
    assert "Lunch?" in page.text and 'data-status="queued"' in page.text
    assert 'hx-trigger="every 2s"' in page.text  # it asks again while a copy goes out
    assert page.text.count('class="delivery"') == 1

    assert await post_worker(app, sessionmaker).run_due() == 1
    again = await signed_in.get(sent.headers["location"], headers={**HTML, "hx-request": "true"})
    assert 'data-status="sent"' in again.text
    assert "<html" not in again.text and 'hx-trigger="every 2s"' not in again.text

    # The conversation: listed on the messages page, and the message in it, with its network.
    listed = await signed_in.get("/conversations", headers=HTML)
    assert listed.status_code == 200
    assert f'href="/conversations/{grace.user.number}"' in listed.text
    assert "Lunch?" in listed.text
    talk = await signed_in.get(f"/conversations/{grace.user.number}", headers=HTML)
    assert talk.status_code == 200
    assert re.search(r'class="said mine">\s*<p class="said-text">Lunch\?</p>', talk.text)
    said = talk.text[talk.text.index('class="conversation"') : talk.text.index("</ol>")]
    assert "XMPP" in said and "Matrix" not in said  # the one messenger it went on
    assert f'href="/messages/new?to={grace.user.number}"' in talk.text
    entries = await signed_in.get(
        f"/conversations/{grace.user.number}", headers={**HTML, "hx-request": "true"}
    )
    assert "<html" not in entries.text and "Lunch?" in entries.text
    assert 'hx-trigger="portal-notification from:body"' in entries.text

    # Answering from the conversation: the form under it writes on every messenger and
    # comes back to it.
    assert re.findall(r'name="networks" value="(\w+)"', talk.text) == ["matrix", "xmpp"]
    token = await get_csrf(signed_in, f"/conversations/{grace.user.number}")
    again = await signed_in.post(
        "/messages",
        data={
            "csrf_token": token,
            "to": grace.user.number,
            "text": "Or dinner?",
            "networks": ["matrix", "xmpp"],
            "back": "conversation",
        },
        headers=HTML,
    )
    assert again.status_code == 303, again.text
    assert again.headers["location"] == f"/conversations/{grace.user.number}"
    talk = await signed_in.get(again.headers["location"], headers=HTML)
    assert talk.text.index("Lunch?") < talk.text.index("Or dinner?")


async def test_what_the_person_does_not_allow_is_said_and_the_rest_opens_ones_app(
    signed_in: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    refused = await signed_in.get(f"/messages/new?to={grace.user.number}", headers=HTML)
    assert refused.status_code == 403
    assert "only from their contacts" in refused.text

    # Members may write, but I have no account that can: each messenger is for my own app.
    grace.user.messages_from = reach.MEMBERS
    await db.commit()
    form = await signed_in.get(f"/messages/new?to={grace.user.number}", headers=HTML)
    assert form.status_code == 200
    assert form.text.count("in your own app, once the message is written") == 2
    assert 'name="networks"' not in form.text

    token = await get_csrf(signed_in, f"/messages/new?to={grace.user.number}")
    sent = await signed_in.post(
        "/messages",
        data={"csrf_token": token, "to": grace.user.number, "text": "Hello"},
        headers=HTML,
    )
    assert sent.status_code == 303, sent.text
    page = await signed_in.get(sent.headers["location"], headers=HTML)
    assert "In your own app" in page.text and "Where it is sent" not in page.text
    assert 'href="https://matrix.to/#/' in page.text and "paste the message there" in page.text

    unknown = await signed_in.get("/messages/new?to=00000000", headers=HTML)
    assert unknown.status_code in (404, 422)
    missing = await signed_in.get("/messages/nosuchmessage", headers=HTML)
    assert missing.status_code == 404


async def test_a_message_request_is_accepted_from_the_conversation_page(
    signed_in: httpx.AsyncClient,
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    me = await db.scalar(select(User).where(User.number == await my_number(signed_in)))
    assert me is not None
    await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace", user=me)
    me.messages_from = reach.MEMBERS
    ada = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada")
    await db.commit()
    sent = await client.post(
        "/api/v1/messages", json={"to": me.number, "text": "Hello there"}, headers=ada.headers
    )
    assert sent.status_code == 202 and sent.json()["held"] is True

    listed = await signed_in.get("/conversations", headers=HTML)
    assert "Message request" in listed.text and "Hello there" in listed.text
    page = await signed_in.get(f"/conversations/{ada.user.number}", headers=HTML)
    assert f'action="/conversations/{ada.user.number}/accept"' in page.text
    assert "/messages/new?to=" not in page.text  # answering comes after saying yes
    token = await get_csrf(signed_in, f"/conversations/{ada.user.number}")
    refused = await signed_in.post(f"/conversations/{ada.user.number}/accept", headers=HTML)
    assert refused.status_code == 403  # no CSRF token, no answer
    accepted = await signed_in.post(
        f"/conversations/{ada.user.number}/accept", data={"csrf_token": token}, headers=HTML
    )
    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == f"/conversations/{ada.user.number}"
    assert await post_worker(app, sessionmaker).run_due() == 2
    after = await signed_in.get(f"/conversations/{ada.user.number}", headers=HTML)
    assert "/accept" not in after.text and f"/messages/new?to={ada.user.number}" in after.text
