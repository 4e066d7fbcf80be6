"""A message with one picture, against the real servers the fixtures start: uploaded as a
post's, sent with the message, and seen by the recipient's own clients: an ``m.image`` on
Matrix, the picture's address on XMPP (which takes no picture here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import account, jobs
from portal.domain.posts import public_pictures
from portal.storage.models import LinkedAccount
from tests.connectors.test_matrix import Inbox
from tests.fixtures import messaging
from tests.fixtures.images import png
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import Person, send
from tests.fixtures.publishing import post_worker
from tests.fixtures.xmpp import XMPP_WAIT, XMPPServer, online_client
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


async def _upload(client: httpx.AsyncClient, who: Person, data: bytes | None = None) -> str:
    uploaded = await client.post(
        "/api/v1/media",
        files={"file": ("cat.png", data or png(64, 48), "image/png")},
        headers=who.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id: str = uploaded.json()["id"]
    return media_id


async def _room_events(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, who: Person, room_id: str
) -> list[dict[str, Any]]:
    response = await http.get(
        f"{homeserver.base_url}/_matrix/client/v3/rooms/{room_id}/messages",
        headers=who.matrix.headers,
        params={"dir": "f", "limit": 50},
    )
    response.raise_for_status()
    return [e for e in response.json()["chunk"] if e["type"] == "m.room.message"]


async def test_a_picture_goes_with_the_message_to_matrix_and_as_an_address_to_xmpp(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    app: FastAPI,
    worker: jobs.Worker,
) -> None:
    ada, grace = two
    media_id = await _upload(client, ada)
    sent = await send(
        client, ada, grace, "Look at her ✨", media_id=media_id, media_description="A black cat"
    )
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert message["picture"]["description"] == "A black cat"
    assert message["picture"]["mime_type"] == "image/jpeg"
    stored = await client.get(message["picture"]["url"], headers=ada.headers)
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"

    addresses = app.state.links.addresses
    async with online_client(xmpp_server, grace.jid, grace.password, addresses) as received:
        assert await worker.run_due() == 2
        on_xmpp = await asyncio.wait_for(received, timeout=XMPP_WAIT)
    shown = (await client.get(f"/api/v1/messages/{message['id']}", headers=ada.headers)).json()
    assert [(c["network"], c["status"], c["error"]) for c in shown["copies"]] == [
        ("matrix", "sent", ""),
        ("xmpp", "sent", ""),
    ]

    # Matrix: the picture as an m.image of its own, uploaded to Ada's server, then the text.
    [room] = await Inbox(matrix_homeserver, http, grace.matrix).accept_invitations()
    image, text = await _room_events(matrix_homeserver, http, grace, room)
    assert image["sender"] == ada.matrix.user_id
    assert image["content"]["msgtype"] == "m.image"
    assert image["content"]["body"] == "A black cat"
    assert image["content"]["info"]["mimetype"] == "image/jpeg"
    assert image["content"]["url"].startswith("mxc://")
    server_name, media = image["content"]["url"].removeprefix("mxc://").split("/")
    download = await http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v1/media/download/{server_name}/{media}",
        headers=grace.matrix.headers,
    )
    assert download.status_code == 200 and download.content == stored.content
    assert text["content"] == {"msgtype": "m.text", "body": "Look at her ✨"}
    assert text["event_id"] == shown["copies"][0]["remote_id"]

    # XMPP: the text, then the picture's address, which opens for anyone.
    body, _, address = on_xmpp["body"].partition("\n\n")
    assert body == "Look at her ✨"
    oob = on_xmpp.xml.find("{jabber:x:oob}x/{jabber:x:oob}url")
    assert oob is not None and oob.text == address
    path = urlsplit(address).path
    assert path.startswith(public_pictures.PATH + "/")
    anyone = await client.get(path)
    assert anyone.status_code == 200, anyone.text
    assert anyone.content == stored.content

    # Grace sees it in her conversation with Ada; someone else cannot fetch it.
    talk = await client.get(f"/api/v1/conversations/{ada.user.number}", headers=grace.headers)
    [entry] = [e for e in talk.json()["entries"] if e["kind"] == "message"]
    assert entry["picture"]["description"] == "A black cat"
    seen = await client.get(entry["picture"]["url"], headers=grace.headers)
    assert seen.status_code == 200 and seen.content == stored.content
    db_session = app.state.sessionmaker
    async with db_session() as db:
        stranger = await people.person(db, "Mallory")
        token = (await account.create_token(db, stranger, name="tests")).secret
        await db.commit()
    refused = await client.get(
        entry["picture"]["url"], headers={"authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 404


async def test_only_ones_own_unused_picture_goes_with_a_message(
    client: httpx.AsyncClient, db: AsyncSession, two: tuple[Person, Person]
) -> None:
    ada, grace = two
    graces = await _upload(client, grace)
    theirs = await send(client, ada, grace, "Hello", media_id=graces)
    assert theirs.status_code == 404, theirs.text
    assert "picture does not exist" in theirs.json()["detail"]

    mine = await _upload(client, ada)
    assert (await send(client, ada, grace, "Hello", media_id=mine)).status_code == 202
    again = await send(client, ada, grace, "Hello again", media_id=mine)
    assert again.status_code == 404, again.text
    # Nor can a post take a message's picture.
    on_matrix = await db.scalar(
        select(LinkedAccount.id).where(
            LinkedAccount.user_id == ada.user.id, LinkedAccount.network == "matrix"
        )
    )
    post = await client.post(
        "/api/v1/posts",
        json={
            "text": "Look",
            "targets": [{"account_id": on_matrix, "destination": "#tea:example.org"}],
            "draft": True,
            "media": [{"id": mine, "description": "A cat"}],
        },
        headers=ada.headers,
    )
    assert post.status_code == 422, post.text
    assert "does not exist" in post.json()["detail"]


async def test_what_is_not_a_picture_is_refused_in_words(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await people.person(db, "Ada")
    token = (await account.create_token(db, ada, name="tests")).secret
    await db.commit()
    refused = await client.post(
        "/api/v1/media",
        files={"file": ("notes.png", b"just some words, not a picture", "image/png")},
        headers={"authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422, refused.text
    assert "picture" in refused.json()["detail"].lower()
