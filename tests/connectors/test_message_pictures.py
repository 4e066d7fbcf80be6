"""A direct message with a picture, on the networks faked at the HTTP layer with the shapes
their documentation gives: Telegram's bot (``sendPhoto``,
https://core.telegram.org/bots/api#sendphoto) and Mastodon (``POST /api/v2/media``, then the
direct status with ``media_ids``, https://docs.joinmastodon.org/methods/media/) and Bluesky
chat (which takes none: the picture's address follows the text); and on email, against the
real SMTP and IMAP servers of the fixtures (an inline attachment)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import respx

from connectors.base import Delivered, Upload
from connectors.telegram import write
from tests.connectors.test_bluesky_chat import ADA, BOB, CONVO, XRPC, _ada, _chat, _message
from tests.connectors.test_email import GRACE, Mailbox, _at_server, ada, http  # noqa: F401
from tests.connectors.test_mastodon import form
from tests.connectors.test_mastodon_direct import SENT_ID, STATUSES, YOU, _sent, me
from tests.connectors.test_mastodon_direct import mock as mastodon  # noqa: F401
from tests.connectors.test_telegram_direct import BOT, private_chat
from tests.connectors.test_telegram_publish import API, TOKEN, ok
from tests.connectors.test_telegram_updates import GRACE as GRACE_ON_TELEGRAM
from tests.fixtures.images import png
from tests.fixtures.smtp import Submission

NOW = datetime.now(UTC)

PICTURE = Upload(png(8, 6), "image/png", "A black cat", 8, 6, id="m1")


@pytest.fixture
def telegram() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def _photo_message(number: int, caption: str = "") -> dict[str, Any]:
    """The bot's photo in the person's private chat, as ``sendPhoto`` returns it."""
    sizes = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 8, "height": 6}]
    found: dict[str, Any] = {
        "message_id": number,
        "from": BOT,
        "chat": private_chat(GRACE_ON_TELEGRAM),
        "date": int(time.time()),
        "photo": sizes,
    }
    return {**found, "caption": caption} if caption else found


def _text_message(number: int, text: str) -> dict[str, Any]:
    return {
        "message_id": number,
        "from": BOT,
        "chat": private_chat(GRACE_ON_TELEGRAM),
        "date": int(time.time()),
        "text": text,
    }


def _fields(request: httpx.Request) -> dict[str, bytes]:
    """The parts of a multipart form, by name."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    found = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        found[name] = body.removesuffix(b"\r\n")
    return found


async def test_telegram_sends_the_picture_with_the_text_as_its_caption(
    telegram: respx.MockRouter,
) -> None:
    text = "Ada (Portal 917 383 58) writes:\n\nLook at her"
    photo = telegram.post(f"{API}/sendPhoto").mock(return_value=ok(_photo_message(78, text)))
    message = telegram.post(f"{API}/sendMessage")
    chat = str(GRACE_ON_TELEGRAM["id"])
    async with httpx.AsyncClient() as client:
        delivered = await write(client, TOKEN, chat, text, picture=PICTURE)
    assert delivered == Delivered("78", chat)
    assert not message.called
    fields = _fields(photo.calls.last.request)
    assert fields["photo"] == PICTURE.data
    assert fields["caption"].decode() == text
    assert json.loads(fields["reply_markup"]) == {"force_reply": True}
    assert fields["chat_id"] == chat.encode()


async def test_telegram_sends_a_text_too_long_for_a_caption_after_the_picture(
    telegram: respx.MockRouter,
) -> None:
    text = "Ada (Portal 917 383 58) writes:\n\n" + "tea " * 300
    photo = telegram.post(f"{API}/sendPhoto").mock(return_value=ok(_photo_message(78)))
    message = telegram.post(f"{API}/sendMessage").mock(return_value=ok(_text_message(79, text)))
    chat = str(GRACE_ON_TELEGRAM["id"])
    async with httpx.AsyncClient() as client:
        delivered = await write(client, TOKEN, chat, text, picture=PICTURE)
    assert delivered == Delivered("79", chat)
    fields = _fields(photo.calls.last.request)
    assert fields["photo"] == PICTURE.data and "caption" not in fields
    assert json.loads(message.calls.last.request.content)["text"] == text
    assert photo.calls.last.request is not message.calls.last.request


async def test_mastodon_attaches_the_picture_to_the_direct_status(
    http: httpx.AsyncClient,  # noqa: F811
    mastodon: respx.MockRouter,  # noqa: F811
) -> None:
    attachment = {
        "id": "22348641",
        "type": "image",
        "url": "http://localhost:3000/system/media_attachments/files/cat.png",
        "preview_url": "http://localhost:3000/system/media_attachments/files/small/cat.png",
        "description": "A black cat",
    }
    upload = mastodon.post("http://localhost:3000/api/v2/media").mock(
        return_value=httpx.Response(200, json=attachment)
    )
    post = mastodon.post(STATUSES).mock(
        return_value=httpx.Response(200, json=_sent(media_attachments=[attachment]))
    )

    delivered = await me(http).send_message(YOU, "pssssst", "key-1", picture=PICTURE)

    assert delivered == Delivered(SENT_ID, thread=SENT_ID)
    sent = upload.calls.last.request.content
    assert PICTURE.data in sent and b'name="description"\r\n\r\nA black cat' in sent
    assert form(post.calls.last.request) == {
        "status": ["@mastodonpy_test_2 pssssst"],
        "visibility": ["direct"],
        "media_ids[]": ["22348641"],
    }
    assert post.calls.last.request.headers["idempotency-key"] == "key-1"


async def test_an_email_carries_the_picture_as_an_inline_attachment(
    ada: Mailbox,  # noqa: F811
    submission_server: Submission,
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    picture = Upload(png(8, 6), "image/png", "Une chatte noire ✨", 8, 6, id="m1")

    delivered = await ada.email(http).send_message(GRACE, "Look at her", "copy-p", picture=picture)

    [sent] = _at_server(submission_server, delivered.id)
    assert isinstance(sent, EmailMessage) and sent.get_content_type() == "multipart/mixed"
    text, image = sent.iter_parts()
    assert text.get_content() == "Look at her\n"
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    assert image["Content-Description"] == "Une chatte noire ✨"
    assert image.get_content() == picture.data


async def test_bluesky_chat_sends_the_text_and_then_the_pictures_address_once() -> None:
    address = "https://portal.example/pictures/sealed-token"
    picture = Upload(png(8, 6), "image/png", "A black cat", 8, 6, id="m1", url=address)
    async with respx.mock(assert_all_called=False) as mock, httpx.AsyncClient() as client:
        _, sent = _chat(mock)
        delivered = await _ada(client).send_message(BOB, "Look at her", "k", picture=picture)
        message = json.loads(sent.calls.last.request.content)["message"]
        assert message["text"] == f"Look at her\n\n{address}"
        assert [facet["features"][0]["uri"] for facet in message["facets"]] == [address]
        assert delivered.thread == CONVO

        # A try again finds the first, the address and all, and sends nothing more.
        mock.get(f"{XRPC}/chat.bsky.convo.getMessages").respond(
            200, json={"messages": [_message("3ksvb7first22", ADA, message["text"], NOW)]}
        )
        again = await _ada(client).send_message(
            BOB, "Look at her", "k", again=True, picture=picture
        )
    assert again.id == "3ksvb7first22" and sent.call_count == 1
