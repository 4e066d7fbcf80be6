"""XMPP: a direct message after it went out, on Prosody with archives (XEP-0313): what the
recipient wrote back, whether they read it, and taking it back (XEP-0424)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

import httpx
import pytest
import slixmpp

from connectors.base import Delivered, InvalidHandle, PermanentError
from connectors.xmpp import _session
from tests.connectors.test_xmpp import account, linked, routed
from tests.fixtures.xmpp import XMPP_WAIT, XMPPServer

MARKERS = "urn:xmpp:chat-markers:0"
RETRACT = "urn:xmpp:message-retract:1"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@dataclass
class Online:
    """A person's own client, online: what it receives waits in ``inbox``."""

    client: slixmpp.ClientXMPP
    inbox: asyncio.Queue[Any]

    async def settle(self) -> None:
        """Wait until the server has handled what this client sent, and this client has
        received what the server routed to it before (a stream keeps its order)."""
        query = self.client.make_iq_get(
            queryxmlns="http://jabber.org/protocol/disco#info", ito=self.client.boundjid.domain
        )
        await query.send(timeout=XMPP_WAIT)  # type: ignore[no-untyped-call]

    async def say(self, to: str, body: str, *extra: Element, id: str = "") -> str:
        """Send a chat message (with ``extra`` elements); its id."""
        message = self.client.make_message(mto=to, mbody=body or None, mtype="chat")
        if id:
            message["id"] = id
        for element in extra:
            message.xml.append(element)
        message.send()
        await self.settle()
        return str(message["id"])

    async def mark(self, to: str, message_id: str, marker: str = "displayed") -> None:
        """A chat marker (XEP-0333) for a message received."""
        await self.say(to, "", Element(f"{{{MARKERS}}}{marker}", {"id": message_id}))

    async def next(self) -> Any:
        return await asyncio.wait_for(self.inbox.get(), timeout=XMPP_WAIT)


@asynccontextmanager
async def online(server: XMPPServer, jid: str, password: str) -> AsyncIterator[Online]:
    async with _session(jid, password, server.server, routed(server).addresses) as client:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        client.add_event_handler("message", inbox.put_nowait)
        client.send_presence()
        person = Online(client, inbox)
        await person.settle()
        yield person


async def test_the_answers_are_what_the_recipient_wrote_after_the_message(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(xmpp_server, http, "alice")
    bob, password = account(xmpp_server, "bob")
    async with online(xmpp_server, bob, password) as his:
        await his.say(alice.handle, "Hi Alice, long time")
        await asyncio.sleep(1.1)  # the archive tells times in whole seconds
        since = datetime.now(UTC)
        await his.say(alice.handle, "Are you there?")
        delivered = await alice.send_message(bob, "Dinner on Friday?", "dinner-1")
        assert (await his.next())["body"] == "Dinner on Friday?"
        await his.say(alice.handle, "", Element("{http://jabber.org/protocol/chatstates}composing"))
        await his.say(alice.handle, "Yes! At eight?")
        await his.mark(alice.handle, delivered.id)
        await alice.send_message(bob, "Perfect")

    found = await alice.answers(bob, delivered, since)

    assert [answer.text for answer in found] == ["Yes! At eight?"]
    [answer] = found
    assert since - timedelta(seconds=1) <= answer.written_at <= datetime.now(UTC)
    assert answer.id and answer.url is None
    # Read again, the same answer has the same id; Bob's address may be written as people do.
    assert await alice.answers(f"xmpp:{bob.upper()}", delivered, since) == found
    # A message the archive does not hold: what came since is all there is to go by.
    unknown = await alice.answers(bob, Delivered("not-in-the-archive"), since)
    assert [answer.text for answer in unknown] == ["Are you there?", "Yes! At eight?"]
    assert await alice.answers(bob, delivered, datetime.now(UTC) + timedelta(seconds=2)) == []


async def test_an_answer_reads_as_last_corrected_and_one_taken_back_is_gone(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(xmpp_server, http, "alice")
    bob, password = account(xmpp_server, "bob")
    since = datetime.now(UTC) - timedelta(seconds=2)
    async with online(xmpp_server, bob, password) as his:
        delivered = await alice.send_message(bob, "Are you in?")
        typo = await his.say(alice.handle, "Yse")
        fixed = Element("{urn:xmpp:message-correct:0}replace", {"id": typo})
        await his.say(alice.handle, "Yes", fixed)
        oops = await his.say(alice.handle, "Wrong chat, sorry")
        await his.say(
            alice.handle,
            "This person took a message back",
            Element(f"{{{RETRACT}}}retract", {"id": oops}),
            Element("{urn:xmpp:fallback:0}fallback", {"for": RETRACT}),
        )
        quote = f"> {alice.handle}: Are you in?\n"
        reply = Element("{urn:xmpp:fallback:0}fallback", {"for": "urn:xmpp:reply:0"})
        reply.append(Element("{urn:xmpp:fallback:0}body", {"start": "0", "end": str(len(quote))}))
        await his.say(alice.handle, quote + "Count me in", reply)

    found = await alice.answers(bob, delivered, since)

    assert [answer.text for answer in found] == ["Yes", "Count me in"]


async def test_a_message_is_read_once_the_recipient_marks_it_or_answers(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(xmpp_server, http, "alice")
    bob, password = account(xmpp_server, "bob")
    async with online(xmpp_server, bob, password) as his:
        first = await alice.send_message(bob, "One")
        second = await alice.send_message(bob, "Two")
        assert await alice.message_read(bob, first) is False

        # Received on a device is not read.
        await his.mark(alice.handle, first.id, "received")
        assert await alice.message_read(bob, first) is False

        await his.mark(alice.handle, first.id)
        assert await alice.message_read(bob, first) is True
        assert await alice.message_read(bob, second) is False

        # A marker on a later message stands for the ones before it.
        third = await alice.send_message(bob, "Three")
        await his.mark(alice.handle, third.id)
        assert await alice.message_read(bob, second) is True

        # An answer after a message: Bob saw it, even with no marker.
        fourth = await alice.send_message(bob, "Four")
        assert await alice.message_read(bob, fourth) is False
        await his.say(alice.handle, "Got them all")
        assert await alice.message_read(bob, fourth) is True


async def test_withdrawing_a_message_sends_one_retraction(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(xmpp_server, http, "alice")
    bob, password = account(xmpp_server, "bob")
    async with online(xmpp_server, bob, password) as his:
        delivered = await alice.send_message(bob, "Never mind this one", "oops-1")
        original = await his.next()
        # Its id is also its origin id, which a retraction names (XEP-0359).
        assert original.xml.find("{urn:xmpp:sid:0}origin-id").get("id") == delivered.id

        await alice.withdraw_message(bob, delivered)

        retraction = await his.next()
        assert retraction["from"].bare == alice.handle
        assert retraction["type"] == "chat"
        assert retraction.xml.find(f"{{{RETRACT}}}retract").get("id") == delivered.id
        assert retraction.xml.find("{urn:xmpp:fallback:0}fallback").get("for") == RETRACT
        assert retraction.xml.find("{urn:xmpp:hints}store") is not None
        assert "took back a message" in retraction["body"]

        # Again: it went out already, and nothing more does.
        await alice.withdraw_message(bob, delivered)
        await his.settle()
        assert his.inbox.empty()


async def test_what_portal_cannot_follow_is_said_clearly(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(xmpp_server, http, "alice")
    bob, _ = account(xmpp_server, "bob")
    delivered = await alice.send_message(bob, "Hello?")
    since = datetime.now(UTC) - timedelta(minutes=1)

    nobody = f"nobody-{delivered.id[:8]}@{xmpp_server.domain}"
    with pytest.raises(PermanentError, match=f"could not take the message back from {nobody}"):
        await alice.withdraw_message(nobody, delivered)
    with pytest.raises(InvalidHandle):
        await alice.answers("not an address", delivered, since)
    with pytest.raises(PermanentError, match="not an XMPP message"):
        await alice.message_read(bob, Delivered(""))
    # Someone Alice never wrote to has not answered, nor read anything.
    assert await alice.answers(nobody, delivered, since) == []
    assert await alice.message_read(nobody, delivered) is False
