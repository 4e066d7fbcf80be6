"""Matrix: a direct message after it went out, on Synapse: what the recipient wrote back,
whether they read it, and taking it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from connectors.base import Delivered, InvalidHandle, PermanentError, Upload
from connectors.matrix import Matrix
from connectors.matrix._direct import answer_of
from tests.connectors.test_matrix import DEVELOPMENT, Inbox, linked
from tests.fixtures.images import png
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser, reaction


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@dataclass
class Conversation:
    """Ada writes to Bob through Portal; Bob answers from his own client."""

    homeserver: MatrixHomeserver
    http: httpx.AsyncClient
    ada: MatrixUser
    portal: Matrix
    """Ada's account, as Portal acts for it."""
    bob: MatrixUser
    room_id: str

    async def as_bob(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request of Bob's client; its JSON answer (it must succeed)."""
        response = await self.http.request(
            method,
            f"{self.homeserver.base_url}/_matrix/client/v3/rooms/{quote(self.room_id)}{path}",
            headers=self.bob.headers,
            **kwargs,
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def bob_writes(self, content: dict[str, Any] | str, kind: str = "m.room.message") -> str:
        if isinstance(content, str):
            content = {"msgtype": "m.text", "body": content}
        return await self.homeserver.send(self.http, self.bob, self.room_id, content, kind)

    async def bob_reads(self, event_id: str, receipt: str = "m.read") -> None:
        await self.as_bob("POST", f"/receipt/{receipt}/{quote(event_id)}", json={})

    async def event(self, event_id: str) -> dict[str, Any]:
        """An event as Bob's client reads it."""
        found: dict[str, Any] = await self.as_bob("GET", f"/event/{quote(event_id)}")
        return found

    async def redactions(self) -> list[dict[str, Any]]:
        messages = await self.as_bob("GET", "/messages", params={"dir": "b", "limit": 100})
        return [event for event in messages["chunk"] if event["type"] == "m.room.redaction"]


async def conversation(homeserver: MatrixHomeserver, http: httpx.AsyncClient) -> Conversation:
    """Ada and Bob, in the direct room Portal made for Ada's first message, which Bob joined."""
    ada, portal = await linked(homeserver, http)
    bob = await homeserver.register(http)
    first = await portal.send_message(bob.user_id, "Hello Bob")
    [room_id] = await Inbox(homeserver, http, bob).accept_invitations()
    assert first.thread == room_id
    return Conversation(homeserver, http, ada, portal, bob, room_id)


async def test_the_answers_are_what_the_recipient_wrote_after_the_message(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    await talk.bob_writes("Hi Ada, long time")
    await asyncio.sleep(0.01)
    since = datetime.now(UTC)
    delivered = await talk.portal.send_message(talk.bob.user_id, "Dinner on Friday?")
    assert delivered == Delivered(delivered.id, thread=talk.room_id)

    yes = await talk.bob_writes("Yes! At eight?")
    photo = await talk.bob_writes(
        {"msgtype": "m.image", "body": "IMG_2024.jpg", "url": "mxc://example.org/abc"}
    )
    await talk.portal.send_message(talk.bob.user_id, "Perfect")
    await talk.bob_writes(reaction(delivered.id), "m.reaction")

    found = await talk.portal.answers(talk.bob.user_id, delivered, since)

    assert [(answer.id, answer.text) for answer in found] == [
        (yes, "Yes! At eight?"),
        (photo, "[image]"),
    ]
    assert since <= found[0].written_at <= found[1].written_at <= datetime.now(UTC)
    assert found[0].url == (
        f"https://matrix.to/#/{quote(talk.room_id, safe='!:')}/{quote(yes, safe='$')}"
        f"?via={matrix_homeserver.server_name}"
    )
    # Read again, the same answers are the same; Bob's handle may be written as people do.
    again = await talk.portal.answers(Matrix.profile_url(talk.bob.user_id), delivered, since)
    assert again == found
    # Nothing of Bob's is newer than now.
    assert await talk.portal.answers(talk.bob.user_id, delivered, datetime.now(UTC)) == []


async def test_an_answer_reads_as_last_edited_and_one_taken_back_is_gone(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    since = datetime.now(UTC) - timedelta(seconds=1)
    delivered = await talk.portal.send_message(talk.bob.user_id, "Are you in?")
    typo = await talk.bob_writes("Yse")
    await talk.bob_writes(
        {
            "msgtype": "m.text",
            "body": "* Yes",
            "m.new_content": {"msgtype": "m.text", "body": "Yes"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": typo},
        }
    )
    oops = await talk.bob_writes("Wrong chat, sorry")
    await talk.as_bob("PUT", f"/redact/{quote(oops)}/undo", json={})
    quoted = await talk.bob_writes(
        {
            "msgtype": "m.text",
            "body": f"> <{talk.ada.user_id}> Are you in?\n\nCount me in",
            "m.relates_to": {"m.in_reply_to": {"event_id": delivered.id}},
        }
    )
    waved = await talk.bob_writes({"msgtype": "m.emote", "body": "waves"})

    found = await talk.portal.answers(talk.bob.user_id, delivered, since)

    assert [(answer.id, answer.text) for answer in found] == [
        (typo, "Yes"),
        (quoted, "Count me in"),
        (waved, "waves"),
    ]


def test_what_is_not_text_is_a_sign_and_what_is_not_a_message_is_nothing() -> None:
    def event(content: dict[str, Any], **other: Any) -> dict[str, Any]:
        found = {"type": "m.room.message", "event_id": "$e", "origin_server_ts": 1, **other}
        return {**found, "content": content}

    room, via = "!r:example.org", "example.org"
    for msgtype, sign in [("m.video", "[video]"), ("m.file", "[file]"), ("x.poll", "[message]")]:
        answer = answer_of(event({"msgtype": msgtype, "body": "a.mp4"}), room, via)
        assert answer is not None and answer.text == sign
    blank = answer_of(event({"msgtype": "m.text", "body": " "}), room, via)
    assert blank is not None and blank.text == "[message]"
    assert answer_of(event({}), room, via) is None
    assert answer_of(event({"body": "x"}, type="m.sticker"), room, via) is None
    assert (
        answer_of(event({"msgtype": "m.text", "body": "x"}, origin_server_ts=0), room, via) is None
    )
    redacted = event({"msgtype": "m.text", "body": "x"}, unsigned={"redacted_because": {}})
    assert answer_of(redacted, room, via) is None


async def test_a_message_is_read_once_the_recipient_says_so(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    delivered = await talk.portal.send_message(talk.bob.user_id, "Did you see this?")
    assert await talk.portal.message_read(talk.bob.user_id, delivered) is False

    # A private receipt is Bob's own business.
    await talk.bob_reads(delivered.id, "m.read.private")
    assert await talk.portal.message_read(talk.bob.user_id, delivered) is False

    await talk.bob_reads(delivered.id)
    assert await talk.portal.message_read(talk.bob.user_id, delivered) is True


async def test_a_receipt_further_on_or_an_answer_means_read(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    first = await talk.portal.send_message(talk.bob.user_id, "One")
    second = await talk.portal.send_message(talk.bob.user_id, "Two")
    third = await talk.portal.send_message(talk.bob.user_id, "Three")

    # A receipt on the second acknowledges the first too, not the third.
    await talk.bob_reads(second.id)
    assert await talk.portal.message_read(talk.bob.user_id, first) is True
    assert await talk.portal.message_read(talk.bob.user_id, third) is False

    # An answer after the third: Bob saw it, even with no receipt on it.
    await talk.bob_writes("Got them all")
    assert await talk.portal.message_read(talk.bob.user_id, third) is True


async def test_withdrawing_a_message_redacts_it_once(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    delivered = await talk.portal.send_message(talk.bob.user_id, "Never mind this one")
    kept = await talk.portal.send_message(talk.bob.user_id, "But this one stays")

    await talk.portal.withdraw_message(talk.bob.user_id, delivered)

    gone = await talk.event(delivered.id)
    assert gone["content"] == {}
    because = gone["unsigned"]["redacted_because"]
    assert because["sender"] == talk.ada.user_id
    assert because["content"]["reason"] == "Taken back by the sender"
    assert (await talk.event(kept.id))["content"]["body"] == "But this one stays"

    # Again, it is done already: no second redaction, even from a new session (Ada linked
    # her account again), which the server does not know the first request of.
    await talk.portal.withdraw_message(talk.bob.user_id, delivered)
    link = await Matrix.sign_in(talk.ada.user_id, talk.ada.password, http, context=DEVELOPMENT)
    relinked = Matrix(link.actor.handle, link.credentials, http, context=DEVELOPMENT)
    await relinked.withdraw_message(talk.bob.user_id, delivered)
    assert [event["redacts"] for event in await talk.redactions()] == [delivered.id]
    # A message the room never had is gone as well.
    await talk.portal.withdraw_message(talk.bob.user_id, Delivered("$never", thread=talk.room_id))


async def test_withdrawing_a_message_with_a_picture_takes_the_picture_back_too(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    earlier = await talk.portal.send_message(
        talk.bob.user_id, "Another one", "k-0", picture=Upload(png(1, 1), "image/png", "A dot")
    )
    delivered = await talk.portal.send_message(
        talk.bob.user_id, "Look at this", "k-1", picture=Upload(png(2, 2), "image/png", "Dots")
    )

    await talk.portal.withdraw_message(talk.bob.user_id, delivered)

    redacted = [event["redacts"] for event in await talk.redactions()]
    assert len(redacted) == 2 and delivered.id in redacted
    [picture] = [event_id for event_id in redacted if event_id != delivered.id]
    assert (await talk.event(picture))["content"] == {}
    # The message before, its picture too, stays.
    assert (await talk.event(earlier.id))["content"]["body"] == "Another one"


async def test_what_portal_cannot_follow_is_said_clearly(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    talk = await conversation(matrix_homeserver, http)
    delivered = await talk.portal.send_message(talk.bob.user_id, "Hello again")
    since = datetime.now(UTC) - timedelta(minutes=1)
    bob = talk.bob.user_id

    elsewhere = Delivered(delivered.id, thread=f"!unknown:{matrix_homeserver.server_name}")
    with pytest.raises(PermanentError, match="not in the conversation any more"):
        await talk.portal.answers(bob, elsewhere, since)
    with pytest.raises(PermanentError, match="not in the conversation any more"):
        await talk.portal.message_read(bob, elsewhere)
    with pytest.raises(PermanentError, match="not in the conversation any more"):
        await talk.portal.withdraw_message(bob, elsewhere)
    with pytest.raises(PermanentError, match="not a Matrix message"):
        await talk.portal.answers(bob, Delivered("42", thread=talk.room_id), since)
    with pytest.raises(PermanentError, match="names no room"):
        await talk.portal.answers(bob, Delivered(delivered.id, thread="#alias:x.org"), since)
    with pytest.raises(InvalidHandle):
        await talk.portal.answers("bob", delivered, since)

    # Bob's own message is not Ada's to take back.
    his = await talk.bob_writes("Mine")
    with pytest.raises(PermanentError, match="not sent by this account"):
        await talk.portal.withdraw_message(bob, Delivered(his, thread=talk.room_id))

    # A message kept without its room is looked for in the direct room with Bob; with
    # someone Ada never wrote to, there is none.
    answer = await talk.bob_writes("Hello you")
    found = await talk.portal.answers(bob, Delivered(delivered.id), since)
    assert [a.id for a in found][-1] == answer
    stranger = await matrix_homeserver.register(http)
    with pytest.raises(PermanentError, match="no direct conversation with"):
        await talk.portal.message_read(stranger.user_id, Delivered(delivered.id))
