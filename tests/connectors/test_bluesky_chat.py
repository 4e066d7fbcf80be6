"""Bluesky: direct messages through the chat service, and their answers.

The PDS the tests run has no chat service, so the chat is faked at the HTTP level (respx)
with answers of the shapes the ``chat.bsky.convo`` lexicons give; every call goes to the
account's PDS, which would pass it on (``atproto-proxy``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from connectors import base
from connectors.atproto import DPoP
from connectors.base import (
    AuthRevoked,
    Credentials,
    Delivered,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.bluesky import Bluesky
from connectors.bluesky._chat import NO_ACCESS, NO_ACCESS_BY_SIGN_IN
from tests.connectors.test_bluesky import PDS, _faked, _mock_handle

ADA = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
"""The account Portal writes from."""
BOB = "did:plc:z72i7hdynmk6r22z27h6tvur"
CONVO = "3ksvb6sl7zx2l"
PROXY = "did:web:api.bsky.chat#bsky_chat"
XRPC = f"{PDS}/xrpc"
_SESSION = Credentials(
    access_token="access", refresh_token="refresh", extra={"did": ADA, "pds": PDS}
)


def _ada(http: httpx.AsyncClient, credentials: Credentials = _SESSION) -> Bluesky:
    return Bluesky("ada.example.com", credentials, http, context=_faked())


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _member(did: str, handle: str) -> dict[str, Any]:
    """A ``chat.bsky.actor.defs#profileViewBasic``."""
    return {"did": did, "handle": handle, "displayName": "", "labels": [], "chatDisabled": False}


def _convo(*members: str) -> dict[str, Any]:
    """A ``chat.bsky.convo.defs#convoView`` of a conversation nobody wrote in yet."""
    return {
        "id": CONVO,
        "rev": "2222222222222",
        "members": [_member(did, f"user{n}.example.com") for n, did in enumerate(members)],
        "muted": False,
        "status": "accepted",
        "unreadCount": 0,
    }


def _message(message_id: str, sender: str, text: str, sent: datetime) -> dict[str, Any]:
    """A ``chat.bsky.convo.defs#messageView``, as ``getMessages`` lists it."""
    return {
        "$type": "chat.bsky.convo.defs#messageView",
        "id": message_id,
        "rev": "2222222222223",
        "text": text,
        "sender": {"did": sender},
        "sentAt": _stamp(sent),
    }


def _deleted(message_id: str, sender: str, sent: datetime) -> dict[str, Any]:
    return {
        "$type": "chat.bsky.convo.defs#deletedMessageView",
        "id": message_id,
        "rev": "2222222222224",
        "sender": {"did": sender},
        "sentAt": _stamp(sent),
    }


def _chat(mock: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    """The chat service finds the conversation of Ada and Bob, and takes a message."""
    found = mock.get(f"{XRPC}/chat.bsky.convo.getConvoForMembers").respond(
        200, json={"convo": _convo(ADA, BOB)}
    )
    view = _message("3ksvb7aaaaa22", ADA, "Tea at five?", datetime.now(UTC))
    del view["$type"]  # the output is the view itself, not a union member
    sent = mock.post(f"{XRPC}/chat.bsky.convo.sendMessage").respond(200, json=view)
    return found, sent


def test_bluesky_can_message_and_read_answers_but_not_withdraw() -> None:
    assert {"message", "read_answers"} <= set(base.capabilities(Bluesky))
    assert not Bluesky.CAN_WITHDRAW


# -- sending ---------------------------------------------------------------------------------


async def test_a_message_goes_into_the_conversation_of_the_two_through_the_pds() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        found, sent = _chat(mock)
        delivered = await _ada(http).send_message(BOB, "Tea at five?", "copy-key")

    assert delivered == Delivered("3ksvb7aaaaa22", thread=CONVO)
    asked = found.calls.last.request
    assert asked.url.params.get_list("members") == [BOB]
    request = sent.calls.last.request
    assert json.loads(request.content) == {"convoId": CONVO, "message": {"text": "Tea at five?"}}
    for call in (asked, request):
        assert call.headers["atproto-proxy"] == PROXY
        assert call.headers["authorization"] == "Bearer access"


async def test_a_handle_is_resolved_and_links_are_facets() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        _mock_handle(mock, "bob.example.com", BOB)  # its DID alone: no DID document read
        found, sent = _chat(mock)
        await _ada(http).send_message("@Bob.example.com", "See https://example.com/tea", "k")

    assert found.calls.last.request.url.params["members"] == BOB
    message = json.loads(sent.calls.last.request.content)["message"]
    assert message["text"] == "See https://example.com/tea"
    assert [facet["features"][0]["uri"] for facet in message["facets"]] == [
        "https://example.com/tea"
    ]


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("messages", "first"),
    [
        ([_message("3ksvb7first22", ADA, "Tea at five?", NOW - timedelta(minutes=3))], True),
        ([_message("3ksvb7first22", ADA, "Tea at six?", NOW - timedelta(minutes=3))], False),
        ([_message("3ksvb7first22", BOB, "Tea at five?", NOW - timedelta(minutes=3))], False),
        ([_message("3ksvb7first22", ADA, "Tea at five?", NOW - timedelta(days=2))], False),
        ([_deleted("3ksvb7first22", ADA, NOW - timedelta(minutes=3))], False),
    ],
    ids=["sent before", "another text", "the recipient's", "long ago", "taken back"],
)
async def test_a_try_again_finds_the_first_tries_message(
    messages: list[dict[str, Any]], first: bool
) -> None:
    async with respx.mock(assert_all_called=False) as mock, httpx.AsyncClient() as http:
        _, sent = _chat(mock)
        read = mock.get(f"{XRPC}/chat.bsky.convo.getMessages").respond(
            200, json={"messages": messages}
        )
        delivered = await _ada(http).send_message(BOB, "Tea at five?", "k", again=True)

    assert read.calls.last.request.url.params["convoId"] == CONVO
    assert read.calls.last.request.headers["atproto-proxy"] == PROXY
    assert sent.called is not first
    assert delivered.id == ("3ksvb7first22" if first else "3ksvb7aaaaa22")
    assert delivered.thread == CONVO


async def test_a_first_try_reads_no_messages() -> None:
    async with respx.mock(assert_all_called=False) as mock, httpx.AsyncClient() as http:
        _chat(mock)
        read = mock.get(f"{XRPC}/chat.bsky.convo.getMessages")
        await _ada(http).send_message(BOB, "Tea at five?", "k")
    assert not read.called


def _refusal(error: str, message: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message})


@pytest.mark.parametrize(
    ("response", "kind", "says"),
    [
        (
            _refusal("InvalidRequest", "recipient has disabled incoming messages"),
            PermanentError,
            "did:plc:z72i7hdynmk6r22z27h6tvur takes no direct messages on Bluesky",
        ),
        (
            _refusal(
                "InvalidRequest", "MessagesDisabled: recipient has disabled incoming messages"
            ),
            PermanentError,
            "takes no direct messages on Bluesky",
        ),
        (
            _refusal(
                "InvalidRequest",
                "recipient requires incoming messages to come from someone they follow",
            ),
            PermanentError,
            "only from people they follow",
        ),
        (
            _refusal("NotFollowedBySender", "recipient requires incoming messages"),
            PermanentError,
            "only from people they follow",
        ),
        (
            _refusal("InvalidRequest", "block between recipient and sender"),
            PermanentError,
            "A block between this account and did:plc:z72i7hdynmk6r22z27h6tvur",
        ),
        (
            _refusal("InvalidRequest", "recipient does not exist"),
            PermanentError,
            "Bluesky's chat does not know",
        ),
        (_refusal("InvalidToken", "Bad token method"), PermanentError, NO_ACCESS),
        (
            _refusal(
                "ScopeMissingError",
                'Missing required scope "rpc:chat.bsky.convo.getConvoForMembers'
                '?aud=did:web:api.bsky.chat#bsky_chat"',
                403,
            ),
            PermanentError,
            NO_ACCESS_BY_SIGN_IN,
        ),
        (
            _refusal("InvalidRequest", "Something new."),
            PermanentError,
            "Bluesky's chat refused the message: Something new.",
        ),
        (_refusal("AuthenticationRequired", "Invalid token", 401), AuthRevoked, "revoked"),
        (
            httpx.Response(429, headers={"ratelimit-reset": "{reset}"}, json={"error": "Rate"}),
            RateLimited,
            "slow down",
        ),
        (httpx.Response(502, text="<html>"), Retriable, "HTTP 502"),
    ],
)
async def test_what_the_chat_service_answers_is_told(
    response: httpx.Response, kind: type[Exception], says: str
) -> None:
    if "ratelimit-reset" in response.headers:
        response.headers["ratelimit-reset"] = str(int(time.time()) + 30)
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{XRPC}/chat.bsky.convo.getConvoForMembers").mock(return_value=response)
        with pytest.raises(base.ConnectorError) as raised:
            await _ada(http).send_message(BOB, "Tea at five?", "k")
    assert type(raised.value) is kind
    assert says in raised.value.message
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after is not None and 10 <= raised.value.retry_after <= 30


async def test_a_locked_conversation_is_told() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        _mock_handle(mock, "bob.example.com", BOB)
        _, sent = _chat(mock)
        sent.mock(return_value=_refusal("ConvoLocked", "convo is locked"))
        with pytest.raises(PermanentError) as raised:
            await _ada(http).send_message("bob.example.com", "Tea at five?", "k")
    assert raised.value.message == "The conversation with @bob.example.com on Bluesky is locked."


async def test_an_expired_session_is_renewed_and_the_call_still_goes_to_the_chat() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        found, _ = _chat(mock)
        found.mock(
            side_effect=[
                _refusal("ExpiredToken", "Token has expired"),
                httpx.Response(200, json={"convo": _convo(ADA, BOB)}),
            ]
        )
        mock.post(f"{XRPC}/com.atproto.server.refreshSession").respond(
            200, json={"accessJwt": "access-2", "refreshJwt": "refresh-2", "did": ADA}
        )
        connector = _ada(http)
        await connector.send_message(BOB, "Tea at five?", "k")
    again = found.calls.last.request
    assert again.headers["authorization"] == "Bearer access-2"
    assert again.headers["atproto-proxy"] == PROXY
    assert connector.credentials.refresh_token == "refresh-2"


def _offline() -> httpx.AsyncClient:
    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(nothing_may_be_sent))


@pytest.mark.parametrize(
    ("to", "text", "says"),
    [
        (BOB, "a" * 1001, "1001 characters long as Bluesky counts them"),
        (BOB, "👨‍👩‍👧‍👦" * 401, "at most 10,000 bytes"),
        (BOB, "  ", "The message is empty."),
        (ADA, "Hello me", "cannot write a direct message to itself"),
        ("not a handle!", "Hello", "handle"),
    ],
)
async def test_what_chat_would_refuse_is_refused_first(to: str, text: str, says: str) -> None:
    async with _offline() as http:
        with pytest.raises(base.ConnectorError) as raised:
            await _ada(http).send_message(to, text, "k")
    assert says in raised.value.message


async def test_a_session_made_by_signing_in_with_bluesky_without_chat_says_so() -> None:
    oauth = Credentials(
        access_token="oauth-access",
        scope="atproto transition:generic",
        extra={"did": ADA, "pds": PDS, "dpop": DPoP().state()},
    )
    async with _offline() as http:
        with pytest.raises(PermanentError) as raised:
            await _ada(http, oauth).send_message(BOB, "Tea at five?", "k")
    assert raised.value.message == NO_ACCESS_BY_SIGN_IN


async def test_a_session_made_by_signing_in_with_chat_sends_with_a_proof() -> None:
    oauth = Credentials(
        access_token="oauth-access",
        scope="atproto transition:generic transition:chat.bsky",
        extra={"did": ADA, "pds": PDS, "dpop": DPoP().state()},
    )
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        _, sent = _chat(mock)
        await _ada(http, oauth).send_message(BOB, "Tea at five?", "k")
    request = sent.calls.last.request
    assert request.headers["authorization"] == "DPoP oauth-access"
    assert request.headers["dpop"]
    assert request.headers["atproto-proxy"] == PROXY


# -- answers ---------------------------------------------------------------------------------

SINCE = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


async def test_the_answers_are_the_recipients_messages_since_then_oldest_first() -> None:
    newest = {
        "messages": [
            _message("3ksvb7bob0004", BOB, "See you there", _at(9)),
            _deleted("3ksvb7bob0003", BOB, _at(8)),
            _message("3ksvb7ada0002", ADA, "Great", _at(7)),
            _message("3ksvb7bob0001", BOB, "  Yes, five!  ", _at(5)),
        ],
        "cursor": "older-1",
    }
    older = {
        "messages": [
            _message("3ksvb7bob0000", BOB, "", _at(1)),
            _message("3ksvb7bob9999", BOB, "Before", _at(-30)),
        ],
        "cursor": "older-2",
    }
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{XRPC}/chat.bsky.convo.getConvo").respond(200, json={"convo": _convo(ADA, BOB)})
        pages = mock.get(f"{XRPC}/chat.bsky.convo.getMessages").mock(
            side_effect=[httpx.Response(200, json=newest), httpx.Response(200, json=older)]
        )
        found = await _ada(http).answers(BOB, Delivered("3ksvb7aaaaa22", CONVO), SINCE)

    assert [(a.id, a.text, a.written_at) for a in found] == [
        ("3ksvb7bob0000", "[message]", _at(1)),
        ("3ksvb7bob0001", "Yes, five!", _at(5)),
        ("3ksvb7bob0004", "See you there", _at(9)),
    ]
    assert found[0].url == f"https://bsky.app/messages/{CONVO}"
    assert pages.call_count == 2  # the second page reached back before the message
    assert "cursor" not in pages.calls[0].request.url.params
    assert pages.calls[1].request.url.params["cursor"] == "older-1"
    assert all(call.request.headers["atproto-proxy"] == PROXY for call in mock.calls)


async def test_answers_come_only_from_a_conversation_with_one_person() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{XRPC}/chat.bsky.convo.getConvo").respond(
            200, json={"convo": _convo(ADA, BOB, "did:plc:44ybard66vv44zksje25o7dz")}
        )
        with pytest.raises(PermanentError, match="single person"):
            await _ada(http).answers(BOB, Delivered("3ksvb7aaaaa22", CONVO), SINCE)


async def test_a_conversation_that_is_gone_is_told() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{XRPC}/chat.bsky.convo.getConvo").mock(
            return_value=_refusal("InvalidConvo", "Convo not found")
        )
        with pytest.raises(PermanentError) as raised:
            await _ada(http).answers("bob.example.com", Delivered("3ksvb7aaaaa22", CONVO), SINCE)
    assert raised.value.message == (
        "The conversation with @bob.example.com is no longer there on Bluesky."
    )
