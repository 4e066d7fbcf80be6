"""Telegram: comments on a channel's posts, read from the updates of the portal's bot.

The updates have the shapes https://core.telegram.org/bots/api#getting-updates documents: a
channel post forwarded into its discussion group (``is_automatic_forward`` with a
``MessageOriginChannel``), and the group's messages in that post's thread
(``message_thread_id``), a comment answering the forward itself or another comment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from connectors.base import PermanentError, Published, RateLimited
from connectors.telegram import Thread, heads, read_updates
from connectors.telegram._updates import BATCH, parse
from tests.connectors.test_telegram_publish import API, CHANNEL, TOKEN, failed, ok

GROUP = {"id": -1001999888777, "title": "Portal news chat", "type": "supergroup"}
BOT_ID = int(TOKEN.partition(":")[0])
GRACE = {"id": 1001, "is_bot": False, "first_name": "Grace", "last_name": "Hopper",
         "username": "Grace_Hopper", "language_code": "en"}  # fmt: skip
ALAN = {"id": 1002, "is_bot": False, "first_name": "Alan"}


def forwarded(number: int, post: int) -> dict[str, Any]:
    """The channel's post ``post`` as Telegram forwarded it into the discussion group."""
    return {
        "message_id": number,
        "sender_chat": CHANNEL,
        "chat": GROUP,
        "date": 1764000060,
        "forward_origin": {"type": "channel", "chat": CHANNEL, "message_id": post,
                           "date": 1764000000},
        "is_automatic_forward": True,
        "text": "Tea at five?",
    }  # fmt: skip


def comment(
    number: int, thread: int, sender: dict[str, Any] = GRACE, reply: Any = None, **fields: Any
) -> dict[str, Any]:
    return {
        "message_id": number,
        "message_thread_id": thread,
        "from": sender,
        "chat": GROUP,
        "date": 1764000120,
        "reply_to_message": reply if reply is not None else forwarded(thread, 41),
        **fields,
    }


def updates(*messages: dict[str, Any], first: int = 500, edited: bool = False) -> list[Any]:
    kind = "edited_message" if edited else "message"
    return [{"update_id": first + i, kind: m} for i, m in enumerate(messages)]


def test_a_forwarded_post_opens_a_thread_whose_messages_are_comments() -> None:
    batch = parse(
        updates(
            forwarded(7, 41),
            comment(8, 7, text="Yes, at five!"),
            comment(9, 7, ALAN, reply=comment(8, 7), text="Me too"),
        ),
        bot=str(BOT_ID),
    )
    assert batch.threads[0] == Thread(str(GROUP["id"]), 7, str(CHANNEL["id"]), 41)
    assert batch.next_offset == 503 and not batch.full
    first, second = batch.comments
    assert (first.group, first.thread) == (str(GROUP["id"]), 7)
    answer = first.response
    assert answer.kind == "reply" and answer.id == f"{GROUP['id']}:8"
    assert answer.text == "Yes, at five!" and answer.in_reply_to is None
    assert answer.published == datetime.fromtimestamp(1764000120, UTC)
    author = answer.author
    assert (author.network, author.id, author.handle) == ("telegram", "1001", "grace_hopper")
    assert author.display_name == "Grace Hopper"
    assert author.url == "https://t.me/grace_hopper"
    # A comment on a comment says which; its author has no username, so no address.
    assert second.response.in_reply_to == f"{GROUP['id']}:8"
    assert second.response.author.handle == "" and second.response.author.url is None
    assert second.response.author.display_name == "Alan"


def test_a_comment_whose_forward_was_not_seen_still_names_its_thread() -> None:
    """The forward came before the bot joined, or in an update read by another: the reply it
    quotes brings the thread's head along."""
    batch = parse(updates(comment(8, 7, text="First!")))
    assert batch.threads == [Thread(str(GROUP["id"]), 7, str(CHANNEL["id"]), 41)]
    assert [c.thread for c in batch.comments] == [7]


def test_what_is_not_a_comment_is_passed_over() -> None:
    plain = {"message_id": 3, "from": GRACE, "chat": GROUP, "date": 1764000000, "text": "hi"}
    private = {**comment(4, 7, reply={}), "chat": {"id": 1001, "type": "private"}}
    own = comment(5, 7, {"id": BOT_ID, "is_bot": True, "first_name": "Portal"}, {}, text="Hi")
    other_origin = {**forwarded(6, 41), "forward_origin": {"type": "user", "sender_user": GRACE,
                                                           "date": 1}}  # fmt: skip
    batch = parse(
        [
            *updates(plain, private, own, other_origin, first=10),
            {"update_id": 20, "channel_post": {"message_id": 41, "chat": CHANNEL, "date": 1}},
            {"update_id": "21"},
            "not an update",
            {"update_id": 22, "message": {"message_id": "x", "chat": GROUP}},
        ],
        bot=str(BOT_ID),
    )
    assert batch.threads == [] and batch.comments == []
    assert batch.next_offset == 23  # everything read is confirmed, even what is passed over
    assert parse(None).next_offset is None and parse([]).comments == []


def test_who_speaks_for_a_chat_and_what_stands_for_no_text() -> None:
    anonymous = comment(8, 7, sender_chat=GROUP, sticker={"emoji": "👍", "file_id": "x"})
    by_channel = comment(9, 7, sender_chat=CHANNEL, text="Thanks all")
    photo = comment(10, 7, photo=[{"file_id": "p", "width": 9, "height": 9}])
    captioned = comment(11, 7, photo=[{"file_id": "p", "width": 9, "height": 9}], caption="Look")
    edited = comment(12, 7, text="Edited words", edit_date=1764000999)
    batch = parse(updates(anonymous, by_channel, photo, captioned)
                  + updates(edited, first=600, edited=True))  # fmt: skip
    texts = [c.response.text for c in batch.comments]
    assert texts == ["👍", "Thanks all", "\N{FRAME WITH PICTURE}", "Look", "Edited words"]
    assert batch.comments[0].response.author.display_name == "Portal news chat"
    assert batch.comments[0].sender_chat == str(GROUP["id"])
    assert batch.comments[1].sender_chat == str(CHANNEL["id"])
    assert batch.comments[1].response.author.handle == "portal_news"
    assert batch.comments[4].response.id == f"{GROUP['id']}:12"
    assert batch.next_offset == 601


def test_a_thread_is_matched_to_each_message_of_a_post() -> None:
    thread = Thread(str(GROUP["id"]), 7, str(CHANNEL["id"]), 42)
    chat = str(CHANNEL["id"])
    assert heads(thread, Published("42", None, chat))
    assert heads(thread, Published("41", None, f"{chat}:41,42,43"))  # an album
    assert not heads(thread, Published("42", None, "-1001111111111"))  # another channel
    assert not heads(thread, Published("41", None, chat))
    assert not heads(thread, Published("42", None, "not a chat"))


@pytest.fixture
def mock() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_a_read_asks_for_comments_after_the_last_one_read(mock: respx.MockRouter) -> None:
    route = mock.post(f"{API}/getUpdates").mock(
        return_value=ok(updates(*(comment(8 + i, 7, text=str(i)) for i in range(BATCH))))
    )
    async with httpx.AsyncClient() as http:
        batch = await read_updates(http, TOKEN, 500)
    sent = json.loads(route.calls.last.request.content)
    assert sent == {"offset": 500, "limit": 100, "timeout": 0,
                    "allowed_updates": ["message", "edited_message"]}  # fmt: skip
    assert batch.full and batch.next_offset == 600
    async with httpx.AsyncClient() as http:
        await read_updates(http, TOKEN, None)
    assert "offset" not in json.loads(route.calls.last.request.content)


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (failed(429, "Too Many Requests: retry after 7", retry_after=7), RateLimited, "wait"),
        (
            failed(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            ),
            PermanentError,
            "webhook is active",
        ),
        (failed(401, "Unauthorized"), PermanentError, "token is wrong"),
    ],
)
async def test_a_refused_read_says_why(
    mock: respx.MockRouter, answer: httpx.Response, error: type[Exception], words: str
) -> None:
    mock.post(f"{API}/getUpdates").mock(return_value=answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(error) as raised:
            await read_updates(http, TOKEN, None)
    assert words in str(raised.value) and TOKEN not in str(raised.value)
