"""Comments on a channel's posts, as the portal's bot receives them (the Bot API's
``getUpdates``, https://core.telegram.org/bots/api#getupdates).

Telegram lists no answers to a channel post on request: a bot can only receive them. When a
channel has a discussion group, Telegram forwards each of its posts into that group
(``is_automatic_forward``, with ``forward_origin`` naming the channel and the post's number
there); the comments on the post are the group's messages in the thread of that forwarded
message (``message_thread_id``, its number in the group). The bot sees them when it is an
administrator of the group (or has its privacy mode off). Reactions to a channel post come
only as anonymous counts, and deleted comments are never told, so neither is read here.

The same updates bring what people write to the bot in their private chat with it
(:mod:`connectors.telegram._direct`): a message there is the user's own (``from`` is the
chat's user), and names the bot's message it answers in ``reply_to_message``.

Telegram keeps the updates a bot has not confirmed for 24 hours; reading with ``offset``
confirms every update before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors import _http
from connectors.base import Actor, Answer, ConnectorError, Published, Response
from connectors.telegram import _bot
from connectors.telegram._login import NETWORK

BATCH = 100
"""The most updates one read takes (Telegram's own limit)."""
WANTED = ("message", "edited_message")
"""The kinds of updates asked for: a comment or a message to the bot, and one changed."""


@dataclass(frozen=True, slots=True)
class Thread:
    """A channel's post forwarded into its discussion group: the head of its comments."""

    group: str
    """The discussion group's chat id."""
    thread: int
    """The forwarded message's number in the group."""
    channel: str
    """The channel's chat id."""
    post: int
    """The post's number in the channel."""


@dataclass(frozen=True, slots=True)
class Comment:
    """A message of a discussion group in the thread of a forwarded post."""

    group: str
    thread: int
    response: Response
    """A ``reply``; its ``id`` is ``<group>:<message number>``, its ``in_reply_to`` the
    comment it answers the same way, or ``None`` for the post itself."""
    sender_chat: str | None = None
    """The chat it was sent on behalf of (the channel itself, or a group's anonymous
    administrator), where it was."""


@dataclass(frozen=True, slots=True)
class Private:
    """A message a user wrote in their private chat with the bot."""

    chat: str
    """The chat's number, which is the user's."""
    replies_to: int | None
    """The number of the message it answers, when it is a reply."""
    answer: Answer
    """What it says; its ``id`` is ``<chat>:<message number>``."""


@dataclass(frozen=True, slots=True)
class Batch:
    threads: list[Thread] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    private: list[Private] = field(default_factory=list)
    next_offset: int | None = None
    """The ``offset`` of the read after this one; ``None`` when nothing came."""
    full: bool = False
    """As many updates came as one read takes: more may be waiting."""


async def read_updates(http: httpx.AsyncClient, token: str, offset: int | None) -> Batch:
    """The updates after ``offset`` (all kept ones for ``None``), without waiting for new
    ones; :mod:`connectors.telegram._bot` errors as for every call (a webhook set for the
    bot is a :class:`~connectors.base.PermanentError`: Telegram then answers no reads)."""
    body: dict[str, Any] = {"limit": BATCH, "timeout": 0, "allowed_updates": list(WANTED)}
    if offset is not None:
        body["offset"] = offset
    return parse(await _bot.call(http, token, "getUpdates", body), bot=_bot_id(token))


def heads(thread: Thread, published: Published) -> bool:
    """Whether the forwarded post at the head of ``thread`` is (a message of) ``published``,
    a post the portal made (:func:`connectors.telegram._bot.published`)."""
    try:
        chat, numbers, _ = _bot.parse_reference(published)
    except ConnectorError:
        return False
    return chat == thread.channel and thread.post in numbers


def _bot_id(token: str) -> str:
    return token.partition(":")[0]


def parse(updates: Any, *, bot: str = "") -> Batch:
    """The threads, comments and private messages in a ``getUpdates`` result; anything else
    (other chats, service messages, what is not well formed) is passed over, and messages of
    the bot ``bot`` (its own) too."""
    if not isinstance(updates, list):
        return Batch()
    threads: list[Thread] = []
    comments: list[Comment] = []
    private: list[Private] = []
    last: int | None = None
    for update in updates:
        item = _http.json_object(update)
        number = _positive(item.get("update_id"))
        if number is None:
            continue
        last = number if last is None else max(last, number)
        message = _http.json_object(item.get("message") or item.get("edited_message"))
        if not message:
            continue
        if _is_private(message):
            found = _private(message)
            if found is not None:
                private.append(found)
            continue
        thread = _thread(message)
        if thread is not None:
            threads.append(thread)
            continue
        replied = _http.json_object(message.get("reply_to_message"))
        head = _thread(replied) if replied else None
        if head is not None:
            threads.append(head)
        comment = _comment(message, head, bot)
        if comment is not None:
            comments.append(comment)
    return Batch(
        threads, comments, private, None if last is None else last + 1, len(updates) >= BATCH
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> int | None:
    """A message's or an update's number, where ``value`` is one."""
    return value if _is_number(value) and value > 0 else None


def _group(message: Any) -> str | None:
    chat = _http.json_object(_http.json_object(message).get("chat"))
    if chat.get("type") not in ("supergroup", "group") or not _is_number(chat.get("id")):
        return None
    return str(chat["id"])


def _thread(message: Any) -> Thread | None:
    """The thread a message heads, when it is a channel's post forwarded by Telegram."""
    item = _http.json_object(message)
    group = _group(item)
    if group is None or item.get("is_automatic_forward") is not True:
        return None
    origin = _http.json_object(item.get("forward_origin"))
    channel = _http.json_object(origin.get("chat"))
    number, post = _positive(item.get("message_id")), _positive(origin.get("message_id"))
    if origin.get("type") != "channel" or not _is_number(channel.get("id")):
        return None
    if number is None or post is None:
        return None
    return Thread(group, number, str(channel["id"]), post)


def _comment(message: Any, head: Thread | None, bot: str) -> Comment | None:
    item = _http.json_object(message)
    group = _group(item)
    number = _positive(item.get("message_id"))
    if group is None or number is None:
        return None
    thread = _positive(item.get("message_thread_id"))
    if thread is None and head is not None:
        thread = head.thread
    if thread is None:
        return None
    sender = _http.json_object(item.get("from"))
    sender_chat = _http.json_object(item.get("sender_chat"))
    if bot and str(sender.get("id")) == bot:
        return None
    author = _author(sender_chat or sender)
    if author is None:
        return None
    replied = _http.json_object(item.get("reply_to_message"))
    answers = _positive(replied.get("message_id"))
    in_reply_to = f"{group}:{answers}" if answers and head is None and answers != thread else None
    published = _when(item.get("date"))
    text = _http.json_text(item.get("text")) or _http.json_text(item.get("caption"))
    response = Response(
        "reply",
        f"{group}:{number}",
        author,
        published=published,
        text=text or _what(item),
        in_reply_to=in_reply_to,
    )
    return Comment(
        group,
        thread,
        response,
        sender_chat=str(sender_chat["id"]) if _is_number(sender_chat.get("id")) else None,
    )


def _is_private(message: Any) -> bool:
    return _http.json_object(_http.json_object(message).get("chat")).get("type") == "private"


def _private(message: Any) -> Private | None:
    """A user's own message in their private chat with the bot, where it says something."""
    item = _http.json_object(message)
    chat = _http.json_object(item.get("chat"))
    sender = _http.json_object(item.get("from"))
    number = _positive(item.get("message_id"))
    written = _when(item.get("date"))
    if number is None or written is None or not _is_number(chat.get("id")):
        return None
    if sender.get("is_bot") is not False or sender.get("id") != chat["id"]:
        return None
    text = _http.json_text(item.get("text")) or _http.json_text(item.get("caption"))
    text = text or _what(item)
    if not text:
        return None
    replied = _http.json_object(item.get("reply_to_message"))
    answer = Answer(f"{chat['id']}:{number}", text, written)
    return Private(str(chat["id"]), _positive(replied.get("message_id")), answer)


def _when(value: Any) -> datetime | None:
    """A message's ``date`` (Unix time), where it is one."""
    if not _is_number(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _author(who: Any) -> Actor | None:
    """A user (``from``) or a chat speaking for itself (``sender_chat``)."""
    item = _http.json_object(who)
    if not _is_number(item.get("id")):
        return None
    username = _http.json_text(item.get("username"))
    name = _http.json_text(item.get("title")) or " ".join(
        part for part in (_http.json_text(item.get("first_name")),
                          _http.json_text(item.get("last_name"))) if part
    )  # fmt: skip
    handle = username.lower() if _bot._CHANNEL.fullmatch(username) else ""
    return Actor(
        NETWORK,
        str(item["id"]),
        handle,
        display_name=name or handle,
        url=f"https://t.me/{handle}" if handle else None,
    )


_WITHOUT_TEXT: Sequence[tuple[str, str]] = (
    ("photo", "\N{FRAME WITH PICTURE}"),
    ("animation", "\N{FILM FRAMES}"),
    ("video", "\N{FILM FRAMES}"),
    ("video_note", "\N{FILM FRAMES}"),
    ("voice", "\N{STUDIO MICROPHONE}"),
    ("audio", "\N{MUSICAL NOTE}"),
    ("document", "\N{PAPERCLIP}"),
    ("poll", "\N{BAR CHART}"),
    ("location", "\N{ROUND PUSHPIN}"),
)
"""A sign for what a comment without text holds, in no language."""


def _what(item: Any) -> str:
    """What stands for the text of a comment without one: a sticker's emoji, or a sign."""
    sticker = _http.json_text(_http.json_object(item.get("sticker")).get("emoji"))
    if sticker:
        return sticker
    return next((sign for key, sign in _WITHOUT_TEXT if key in item), "")
