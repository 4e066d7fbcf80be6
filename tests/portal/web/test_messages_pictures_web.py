"""A picture with a message from the web form and the answer box, without script: a
multipart form post, its CSRF token checked, the picture shown in the conversation and on
the message's page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.storage.models import User
from tests.fixtures import messaging
from tests.fixtures.app import HTML, get_csrf, my_number
from tests.fixtures.images import png
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import Person, messenger
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

settings = messaging.settings


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def grace(
    signed_in: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> Person:
    me = await db.scalar(select(User).where(User.number == await my_number(signed_in)))
    assert me is not None
    await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada", user=me)
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    await people.befriend(db, me, grace.user)
    await db.commit()
    return grace


async def test_the_answer_box_sends_a_picture_without_script(
    signed_in: httpx.AsyncClient, grace: Person
) -> None:
    page = f"/conversations/{grace.user.number}"
    talk = await signed_in.get(page, headers=HTML)
    assert 'enctype="multipart/form-data"' in talk.text
    assert 'name="picture" type="file"' in talk.text
    token = await get_csrf(signed_in, page)
    fields = {
        "to": grace.user.number,
        "text": "Look at her",
        "networks": ["xmpp"],
        "back": "conversation",
        "picture_description": "A black cat",
    }
    files = {"picture": ("cat.png", png(40, 30), "image/png")}

    forged = await signed_in.post("/messages", data=fields, files=files, headers=HTML)
    assert forged.status_code == 403

    sent = await signed_in.post(
        "/messages", data={**fields, "csrf_token": token}, files=files, headers=HTML
    )
    assert sent.status_code == 303, sent.text
    talk = await signed_in.get(page, headers=HTML)
    [src] = re.findall(r'<img class="said-picture" src="([^"]+)" alt="A black cat"', talk.text)
    picture = await signed_in.get(src)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"

    message = re.search(r'href="(/messages/[\w-]+)"', talk.text)
    assert message is not None
    shown = await signed_in.get(message.group(1), headers=HTML)
    assert f'<img class="message-picture" src="{src}" alt="A black cat">' in shown.text


async def test_a_file_that_is_no_picture_is_refused_in_words(
    signed_in: httpx.AsyncClient, grace: Person
) -> None:
    token = await get_csrf(signed_in, f"/messages/new?to={grace.user.number}")
    refused = await signed_in.post(
        "/messages",
        data={
            "csrf_token": token,
            "to": grace.user.number,
            "text": "Look at her",
            "networks": ["xmpp"],
            "picture_description": "A black cat",
        },
        files={"picture": ("cat.png", b"not a picture at all", "image/png")},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert 'id="media-error"' in refused.text
    assert "Look at her" in refused.text and 'value="A black cat"' in refused.text
