"""Telegram: the portal's bot writing to a person in their private chat with it, taking the
message back, and the person's answers read from the bot's updates.

The Bot API is faked with respx; requests and answers have the shapes
https://core.telegram.org/bots/api documents (``sendMessage``, ``deleteMessage``, a ``Message``
in a ``private`` chat with ``reply_to_message``), the refusals Telegram's own descriptions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from connectors.base import Delivered, PermanentError, RateLimited
from connectors.telegram import NotAllowed, chat_of, take_back, write
from connectors.telegram._updates import parse
from tests.connectors.test_telegram_publish import API, TOKEN, failed, ok
from tests.connectors.test_telegram_updates import ALAN, BOT_ID, GRACE, updates

BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Portal", "username": "portal_bot"}


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    """A user's private chat with the bot, as a ``Chat``: numbered with the user's number."""
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return {**chat, **({"username": user["username"]} if "username" in user else {})}


def bots_message(number: int, user: dict[str, Any] = GRACE, text: str = "Hi") -> dict[str, Any]:
    """The bot's message in ``user``'s private chat, as ``sendMessage`` returns it."""
    return {
        "message_id": number,
        "from": BOT,
        "chat": private_chat(user),
        "date": int(time.time()),
        "text": text,
    }


def users_message(
    number: int,
    user: dict[str, Any] = GRACE,
    *,
    reply: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """What ``user`` writes in their private chat with the bot; a reply to ``reply``."""
    found = {
        "message_id": number,
        "from": user,
        "chat": private_chat(user),
        "date": int(time.time()),
        **fields,
    }
    if reply is not None:
        found["reply_to_message"] = reply
    return found


@pytest.fixture
def telegram() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


async def test_the_bot_writes_in_the_persons_private_chat_without_a_preview(
    telegram: respx.MockRouter,
) -> None:
    route = telegram.post(f"{API}/sendMessage").mock(return_value=ok(bots_message(77)))
    async with httpx.AsyncClient() as http:
        delivered = await write(http, TOKEN, "1001", "Ada (Portal 917 383 58) writes:\n\nTea?")
    assert delivered == Delivered("77", "1001")
    assert json.loads(route.calls.last.request.content) == {
        "chat_id": 1001,
        "text": "Ada (Portal 917 383 58) writes:\n\nTea?",
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {"force_reply": True},
    }


@pytest.mark.parametrize(
    "answer",
    [
        failed(403, "Forbidden: bot can't initiate conversation with a user"),
        failed(403, "Forbidden: bot was blocked by the user"),
        failed(403, "Forbidden: user is deactivated"),
        failed(400, "Bad Request: chat not found"),
    ],
)
async def test_a_person_who_did_not_let_the_bot_write_is_said_so(
    telegram: respx.MockRouter, answer: httpx.Response
) -> None:
    telegram.post(f"{API}/sendMessage").mock(return_value=answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(NotAllowed) as raised:
            await write(http, TOKEN, "1001", "Tea?")
    assert "not allowed Portal's bot to write to them" in raised.value.message


async def test_a_bot_asked_to_wait_says_how_long_and_a_wrong_answer_is_refused(
    telegram: respx.MockRouter,
) -> None:
    route = telegram.post(f"{API}/sendMessage")
    route.mock(return_value=failed(429, "Too Many Requests: retry after 35", retry_after=35))
    async with httpx.AsyncClient() as http:
        with pytest.raises(RateLimited) as limited:
            await write(http, TOKEN, "1001", "Tea?")
        assert limited.value.retry_after == 35
        route.mock(return_value=ok(bots_message(77, ALAN)))  # written in someone else's chat
        with pytest.raises(PermanentError, match="another chat"):
            await write(http, TOKEN, "1001", "Tea?")
        for chat in ("", "-1001234567890", "@grace_hopper", "1e3", "0"):
            with pytest.raises(PermanentError, match="not a Telegram user"):
                await write(http, TOKEN, chat, "Tea?")
    assert route.call_count == 2


async def test_the_bot_deletes_its_message_and_one_gone_counts_as_deleted(
    telegram: respx.MockRouter,
) -> None:
    route = telegram.post(f"{API}/deleteMessage").mock(return_value=ok(True))
    async with httpx.AsyncClient() as http:
        await take_back(http, TOKEN, Delivered("77", "1001"))
        assert json.loads(route.calls.last.request.content) == {"chat_id": 1001, "message_id": 77}
        route.mock(return_value=failed(400, "Bad Request: message to delete not found"))
        await take_back(http, TOKEN, Delivered("77", "1001"))  # asked, and no error raised
        assert route.call_count == 2
        route.mock(return_value=failed(400, "Bad Request: message can't be deleted"))
        with pytest.raises(PermanentError, match="48 hours"):
            await take_back(http, TOKEN, Delivered("77", "1001"))
        assert route.call_count == 3


def test_a_users_number_is_their_chat_with_the_bot() -> None:
    assert chat_of("1001") == "1001"
    assert chat_of("0042") == "42"
    for wrong in (None, "", "0", "-1001", "12a", "١٢٣", "9" * 17, str(2**53)):
        assert chat_of(wrong) is None


def test_what_a_person_writes_to_the_bot_is_theirs_and_names_what_it_answers() -> None:
    sent = bots_message(77)
    batch = parse(
        updates(
            users_message(78, reply=sent, text="Yes, at five!"),
            users_message(79, text="And cake?"),
            users_message(80, reply=sent, sticker={"emoji": "👍", "file_id": "x"}),
            users_message(81, ALAN, reply=bots_message(77, ALAN), text="Not Grace"),
            # Not the chat's user, or the bot itself: passed over.
            {**users_message(82, ALAN, reply=sent, text="Me?"), "chat": private_chat(GRACE)},
            {**bots_message(83), "reply_to_message": sent},
            users_message(84, reply=sent),  # nothing said (a service message)
        ),
        bot=str(BOT_ID),
    )
    assert batch.comments == [] and batch.threads == []
    said = [(p.chat, p.replies_to, p.answer.id, p.answer.text) for p in batch.private]
    assert said == [
        ("1001", 77, "1001:78", "Yes, at five!"),
        ("1001", None, "1001:79", "And cake?"),
        ("1001", 77, "1001:80", "👍"),
        ("1002", 77, "1002:81", "Not Grace"),
    ]
    written = batch.private[0].answer.written_at
    assert written.tzinfo is UTC and abs(written - datetime.now(UTC)).total_seconds() < 60
    assert batch.next_offset == 507
