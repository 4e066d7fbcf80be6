"""Writing to a person in their private chat with the portal's bot
(https://core.telegram.org/bots/api#sendmessage).

Telegram gives people no API to send messages as themselves, but a bot may write to a user
who allowed it: who let it write when logging in with the Login Widget
(``data-request-access="write"``, https://core.telegram.org/widgets/login), or who started a
chat with it. Its chat with a user is numbered with the user's own number, which the widget
proved and the portal keeps as the linked account's ``external_id``.

- Telegram refuses a user who never allowed the bot (``403 Forbidden: bot can't initiate
  conversation with a user``, or ``400 Bad Request: chat not found`` for a user the bot never
  met), who blocked it (``Forbidden: bot was blocked by the user``) or whose account is gone
  (``Forbidden: user is deactivated``): :class:`NotAllowed`, for the portal to say in words.
- The message asks for an answer (``reply_markup`` ForceReply,
  https://core.telegram.org/bots/api#forcereply): the app opens a reply to it, so that the
  answer names the message it answers (``reply_to_message``) and can be told from other
  messages in the chat. Links in it show no preview (``link_preview_options``).
- Telegram takes no idempotency key, and a bot cannot read a chat's history, so a try after
  one whose answer was lost (the connection cut after Telegram took the message) cannot know
  whether it went: it writes the message again, and the person may see it twice. Portal keeps
  that window small by recording the message the moment Telegram answers.
- A picture goes with ``sendPhoto`` (https://core.telegram.org/bots/api#sendphoto), the text
  as its caption where it fits Telegram's 1024 characters; a longer text follows the picture
  in a message of its own, which is the one answers name.
- A bot may delete its own messages in a private chat while they are less than 48 hours old
  (https://core.telegram.org/bots/api#deletemessage); Telegram does not tell a bot whether a
  message in a private chat was read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from connectors import _http
from connectors.base import Delivered, PermanentError, Upload
from connectors.telegram import _bot
from connectors.telegram._bot import Gone, NotAllowed

MAX_CAPTION = 1024
"""The longest caption of a picture (https://core.telegram.org/bots/api#sendphoto)."""
DELETABLE_FOR = timedelta(hours=48)
"""How long after it was sent a bot may delete its message in a private chat."""
NOT_ALLOWED = (
    "This person has not allowed Portal's bot to write to them on Telegram: they can allow it "
    "by logging in with Telegram on Portal again, or by starting a chat with the bot."
)
_PRIVATE_REFUSALS: _bot.Refusals = (
    (
        (
            "bot can't initiate conversation",
            "bot was blocked by the user",
            "user is deactivated",
            "chat not found",
            "forbidden",
        ),
        NotAllowed,
        NOT_ALLOWED,
    ),
)
"""In a private chat, every refusal to write that is not a matter of the text means the
person has not let the bot write to them."""
_MAX_USER_ID = 2**53
"""Telegram's user numbers fit in 52 bits (a double's precision), as the Bot API promises."""


def chat_of(external_id: str | None) -> str | None:
    """The private chat with the user whose number is ``external_id`` (the chat's number is
    the user's), or ``None`` when it is not a user's number."""
    text = external_id or ""
    if not (text.isascii() and text.isdigit() and len(text) <= 16):
        return None
    number = int(text)
    return str(number) if 0 < number < _MAX_USER_ID else None


async def write(
    http: httpx.AsyncClient, token: str, chat: str, text: str, *, picture: Upload | None = None
) -> Delivered:
    """Send ``text`` into the private chat ``chat`` as the bot, after ``picture`` or as its
    caption; its message's number, and the chat as where the answers come.
    :class:`NotAllowed` when the person does not let the bot write to them; the errors of
    :func:`connectors.telegram._bot.call` otherwise."""
    number = chat_of(chat)
    if number is None:
        raise PermanentError("This is not a Telegram user's number.")
    asking = {"chat_id": int(number), "reply_markup": {"force_reply": True}}
    if picture is not None and len(text) <= MAX_CAPTION:
        result = await _photo(http, token, {**asking, "caption": text}, picture)
    else:
        if picture is not None:
            await _photo(http, token, {"chat_id": int(number)}, picture)
        body: dict[str, Any] = {
            **asking,
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        result = await _bot.call(http, token, "sendMessage", body, refusals=_PRIVATE_REFUSALS)
    message = _http.json_object(result)
    sent = message.get("message_id")
    chat_id = _http.json_object(message.get("chat")).get("id")
    if not (isinstance(sent, int) and not isinstance(sent, bool) and sent > 0):
        raise PermanentError(f"{_bot.UNEXPECTED}: the message it sent has no number.")
    if str(chat_id) != number:
        raise PermanentError(f"{_bot.UNEXPECTED}: it wrote in another chat.")
    return Delivered(str(sent), number)


async def _photo(http: httpx.AsyncClient, token: str, body: dict[str, Any], picture: Upload) -> Any:
    """``sendPhoto`` with the picture's bytes as the ``photo`` file."""
    if not picture.data:
        raise PermanentError("This picture is empty.")
    name = "picture." + (picture.mime_type.partition("/")[2] or "jpeg")
    photo = (name, picture.data, picture.mime_type)
    return await _bot.call(
        http, token, "sendPhoto", body, files={"photo": photo}, refusals=_PRIVATE_REFUSALS
    )


async def take_back(http: httpx.AsyncClient, token: str, delivered: Delivered) -> None:
    """Delete a message :func:`write` sent (``deleteMessage``); one already gone counts as
    deleted. Older than :data:`DELETABLE_FOR`, Telegram refuses."""
    chat = chat_of(delivered.thread)
    if chat is None or not (delivered.id.isascii() and delivered.id.isdigit()):
        raise PermanentError("This is not a message Portal's bot wrote on Telegram.")
    body = {"chat_id": int(chat), "message_id": int(delivered.id)}
    try:
        await _bot.call(http, token, "deleteMessage", body)
    except Gone:
        return
