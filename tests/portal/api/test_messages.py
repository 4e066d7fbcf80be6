"""Writing to a person by their number, over their messengers, against the real servers the
fixtures start: Ada's accounts on Synapse and Prosody write to Grace's, and Grace's own
clients (a Matrix /sync, an XMPP session) receive the message."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import account, jobs, linking, reach
from portal.storage.models import LinkedAccount
from portal.storage.posts import Job
from tests.connectors.test_matrix import Inbox, messages_in
from tests.fixtures import messaging
from tests.fixtures.live import free_port
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import Person, messenger, send
from tests.fixtures.publishing import post_worker
from tests.fixtures.xmpp import XMPPServer, online_client
from tests.portal.domain import people

settings = messaging.settings
two = messaging.two


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    return post_worker(app, sessionmaker)


async def _get(client: httpx.AsyncClient, who: Person, message_id: str) -> dict[str, Any]:
    got = await client.get(f"/api/v1/messages/{message_id}", headers=who.headers)
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


async def test_a_message_reaches_the_person_on_every_messenger_at_once(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    app: FastAPI,
    worker: jobs.Worker,
) -> None:
    ada, grace = two
    addresses = app.state.links.addresses
    sent = await send(client, ada, grace, "Tea at five? ✨")
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert message["to"] == grace.user.number and message["mode"] == "all"
    assert [(c["network"], c["status"]) for c in message["copies"]] == [
        ("matrix", "queued"),
        ("xmpp", "queued"),
    ]
    assert message["copies"][0]["to"] == grace.matrix.user_id

    async with online_client(xmpp_server, grace.jid, grace.password, addresses) as received:
        assert await worker.run_due() == 2
        on_xmpp = await asyncio.wait_for(received, timeout=5)

    shown = await _get(client, ada, message["id"])
    assert [(c["network"], c["status"], c["error"]) for c in shown["copies"]] == [
        ("matrix", "sent", ""),
        ("xmpp", "sent", ""),
    ]
    assert on_xmpp["body"] == "Tea at five? ✨"
    assert on_xmpp["from"].bare == ada.jid
    assert on_xmpp["id"] == shown["copies"][1]["remote_id"]
    # Grace's Matrix client: invited to a direct room by Ada, the message in it.
    [room] = await Inbox(matrix_homeserver, http, grace.matrix).accept_invitations()
    assert await messages_in(matrix_homeserver, http, grace.matrix, room) == [
        (ada.matrix.user_id, "Tea at five? ✨")
    ]


async def test_first_that_delivers_stops_there_or_falls_through_to_the_next(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Person, Person],
) -> None:
    ada, grace = two
    # Grace wants XMPP first.
    ordered = await client.put(
        "/api/v1/me/reach",
        json={
            "channels": [
                await _account_id(db, grace, "xmpp"),
                await _account_id(db, grace, "matrix"),
            ]
        },
        headers=grace.headers,
    )
    assert ordered.status_code == 200, ordered.text

    sent = (await send(client, ada, grace, "First one", mode="first")).json()
    assert [(c["network"], c["status"]) for c in sent["copies"]] == [
        ("xmpp", "queued"),
        ("matrix", "waiting"),
    ]
    assert await post_worker(app, sessionmaker).run_due() == 1
    shown = await _get(client, ada, sent["id"])
    assert [(c["network"], c["status"]) for c in shown["copies"]] == [
        ("xmpp", "sent"),
        ("matrix", "skipped"),
    ]

    # Ada's XMPP server is down (her account's server now at a port where nothing listens):
    # the XMPP copy fails at once, and Matrix delivers.
    mine = await db.get(LinkedAccount, await _account_id(db, ada, "xmpp"))
    assert mine is not None
    stored = linking.load_credentials(app.state.links, mine)
    assert stored is not None
    moved = dataclasses.replace(stored, extra={**stored.extra, "port": free_port()})
    linking.store_credentials(app.state.links, mine, moved)
    await db.commit()
    sent = (await send(client, ada, grace, "Second one", mode="first")).json()
    worker = post_worker(app, sessionmaker)
    assert await worker.run_due() == 2
    shown = await _get(client, ada, sent["id"])
    assert [(c["network"], c["status"]) for c in shown["copies"]] == [
        ("xmpp", "failed"),
        ("matrix", "sent"),
    ]
    assert (
        "XMPP" in shown["copies"][0]["error"] and "certificate" not in shown["copies"][0]["error"]
    )


async def _account_id(db: AsyncSession, person: Person, network: str) -> int:
    found = await db.scalar(
        select(LinkedAccount.id).where(
            LinkedAccount.user_id == person.user.id, LinkedAccount.network == network
        )
    )
    assert found is not None
    return found


async def test_only_what_the_recipient_allows_the_sender(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    worker: jobs.Worker,
) -> None:
    ada, grace = two
    stranger = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Stan")
    refused = await send(client, stranger, grace, "Hello?")
    assert refused.status_code == 403
    assert "only from their contacts" in refused.json()["detail"]

    # Members may write; Grace shows her XMPP account to contacts only: Matrix alone is theirs.
    grace.user.messages_from = reach.MEMBERS
    xmpp = await db.get(LinkedAccount, await _account_id(db, grace, "xmpp"))
    assert xmpp is not None
    xmpp.audience = "contacts"
    await db.commit()
    sent = await send(client, stranger, grace, "Hello?")
    assert sent.status_code == 202, sent.text
    assert [c["network"] for c in sent.json()["copies"]] == ["matrix"]
    asked = await send(client, stranger, grace, "Hello?", channels=["xmpp"])
    assert asked.status_code == 422
    assert "does not offer you that messenger" in asked.json()["detail"]

    # Blocked: answered as anyone, and nothing goes.
    await people.block(db, grace.user, stranger.user)
    await db.commit()
    before = await db.scalar(select(Job.id).order_by(Job.id.desc()).limit(1))
    dropped = await send(client, stranger, grace, "Let me in")
    assert dropped.status_code == 202
    assert await db.scalar(select(Job.id).order_by(Job.id.desc()).limit(1)) == before

    # Nobody: the person says so.
    grace.user.messages_from = reach.NOBODY
    await db.commit()
    refused = await send(client, ada, grace, "Hi")
    assert refused.status_code == 403
    assert "does not take messages" in refused.json()["detail"]


async def test_a_wrong_message_is_refused_and_another_persons_is_not_found(
    client: httpx.AsyncClient, db: AsyncSession, two: tuple[Person, Person]
) -> None:
    ada, grace = two
    for body, status, words in [
        ({"to": grace.user.number, "text": "   "}, 422, "Write something"),
        ({"to": grace.user.number, "text": "x" * 4001}, 422, "at most 4000"),
        ({"to": grace.user.number, "text": "a\x07b"}, 422, "control character"),
        ({"to": grace.user.number, "text": "hi", "mode": "some"}, 422, "mode"),
        ({"to": "00000000", "text": "hi"}, None, None),
        ({"to": ada.user.number, "text": "hi"}, 422, "your own number"),
    ]:
        answer = await client.post("/api/v1/messages", json=body, headers=ada.headers)
        if status is None:  # a number nobody has: not found, or refused as mistyped
            assert answer.status_code in (404, 422), answer.text
        else:
            assert answer.status_code == status, answer.text
            assert words is not None and words in answer.text
    sent = (await send(client, ada, grace, "Hi")).json()
    theirs = await client.get(f"/api/v1/messages/{sent['id']}", headers=grace.headers)
    unknown = await client.get("/api/v1/messages/nosuchmessage", headers=grace.headers)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    # Without an account that can write, the messengers come as links to one's own app;
    # WhatsApp's writes the message in (Grace's number there is on her card, unproven).
    lonely = await people.person(db, "Lonely")
    await people.account(db, lonely, "github", "lonely")
    await people.befriend(db, lonely, grace.user)
    await people.account(db, grace.user, "whatsapp", "+447400123456")
    token = (await account.create_token(db, lonely, name="tests")).secret
    await db.commit()
    answer = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea at five?"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["copies"] == []
    links = {link["network"]: link for link in answer.json()["links"]}
    assert sorted(links) == ["matrix", "whatsapp", "xmpp"]
    assert links["whatsapp"]["url"] == "https://wa.me/447400123456?text=Tea%20at%20five%3F"
    assert links["whatsapp"]["fills_in_text"] is True
    assert links["matrix"]["url"].startswith("https://matrix.to/#/")
    assert links["matrix"]["fills_in_text"] is False
    # For Ada, who writes on Matrix and XMPP herself, WhatsApp alone is a link.
    sent = (await send(client, ada, grace, "Hi again")).json()
    assert [c["network"] for c in sent["copies"]] == ["matrix", "xmpp"]
    assert [link["network"] for link in sent["links"]] == ["whatsapp"]
    # Someone whose messengers are all proven and who has none: nothing to write on at all.
    bare = await people.person(db, "Bare")
    await people.befriend(db, lonely, bare)
    await db.commit()
    nothing = await client.post(
        "/api/v1/messages",
        json={"to": bare.number, "text": "hi"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert nothing.status_code == 422
    assert "no account that can write" in nothing.json()["detail"]
