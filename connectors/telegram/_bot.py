"""The Bot API as Portal uses it: one call, what its answers mean, where a post goes and how
a published one is named (https://core.telegram.org/bots/api#making-requests)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors import _http
from connectors.base import (
    ConnectorError,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
)

API = "https://api.telegram.org"
FAILURES = _http.Failures.about("Telegram")

NO_BOT = "This portal has no Telegram bot, so it cannot post to Telegram."
BOT_REFUSED = (
    "Telegram does not accept this portal's bot: its token is wrong or was revoked. "
    "The portal's administrator must set a new one."
)
BOT_MAY_NOT_POST = (
    "Portal's Telegram bot may not post in this chat: add it to the channel or group as "
    "an administrator who can post messages."
)
UNEXPECTED = "Telegram answered in a way Portal does not understand"

_CHAT_ID = re.compile(r"-[1-9][0-9]{0,18}", re.ASCII)
_CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}", re.ASCII)
_MESSAGE_IDS = re.compile(r"[1-9][0-9]{0,18}(?:,[1-9][0-9]{0,18}){0,9}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(r"^(?:https?://)?(?:t\.me/|telegram\.me/)?@?", re.IGNORECASE)


class Gone(PermanentError):
    """The message is no longer in the chat (deleted, or never there)."""


class Unchanged(PermanentError):
    """An edit that would change nothing."""


class NoSuchMember(PermanentError):
    """The person asked about is not in the chat."""


class NotAllowed(PermanentError):
    """The person has not let the bot write to them (never allowed it, or blocked it)."""


Refusals = Sequence[tuple[tuple[str, ...], type[PermanentError], str]]


_REFUSALS: Refusals = (
    (
        ("message to delete not found", "message to edit not found", "message_id_invalid"),
        Gone,
        "This message is no longer in the chat.",
    ),
    (("message is not modified",), Unchanged, "The message already reads so."),
    (
        ("user not found", "member not found", "participant_id_invalid", "user_id_invalid"),
        NoSuchMember,
        "You are not a member of this channel or group.",
    ),
    (
        ("message is too long",),
        PermanentError,
        "The text is longer than the 4096 characters Telegram takes in one message.",
    ),
    (
        ("caption is too long",),
        PermanentError,
        "The text is longer than the 1024 characters Telegram takes with pictures.",
    ),
    (
        ("message text is empty", "text must be non-empty", "caption is empty"),
        PermanentError,
        "There is nothing to post: the message has no text.",
    ),
    (
        ("message to be replied not found", "replied message not found", "reply not found"),
        PermanentError,
        "The message this one answers is no longer in the chat, so the thread cannot go on.",
    ),
    (
        ("photo_invalid_dimensions",),
        PermanentError,
        "A picture has a shape Telegram does not take: its width and height may add up to "
        "10000 pixels at most, and one may be at most 20 times the other.",
    ),
    (
        ("too big", "too large", "entity too large"),
        PermanentError,
        "A picture is larger than the 10 MB Telegram takes.",
    ),
    (
        ("image_process_failed", "photo_ext_invalid", "photo_save_file_invalid", "wrong file"),
        PermanentError,
        "Telegram could not read one of the pictures; try another.",
    ),
    (
        ("message can't be deleted",),
        PermanentError,
        "Telegram does not let Portal's bot delete this message: a bot may delete only "
        "messages less than 48 hours old.",
    ),
    (
        ("message can't be edited",),
        PermanentError,
        "Telegram does not let Portal's bot change this message any more.",
    ),
    (
        ("chat not found", "channel_invalid", "peer_id_invalid"),
        PermanentError,
        "Telegram knows no channel or group of that name with Portal's bot in it: check the "
        "name, and add the bot to it as an administrator who can post messages.",
    ),
    (
        (
            "bot is not a member",
            "bot was kicked",
            "need administrator rights",
            "not enough rights",
            "have no rights",
            "chat_write_forbidden",
            "chat_admin_required",
            "member list is inaccessible",
        ),
        PermanentError,
        BOT_MAY_NOT_POST,
    ),
)
"""What Telegram's descriptions (``Bad Request: …``, ``Forbidden: …``) mean, in Portal's
words: a fragment of the description, lower-cased, picks the error."""


async def call(
    http: httpx.AsyncClient,
    token: str,
    method: str,
    body: Mapping[str, Any],
    *,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    refusals: Refusals = (),
) -> Any:
    """The ``result`` of one Bot API method, or the error its answer means.

    ``body`` goes as JSON, or with ``files`` as multipart form fields (values that are not
    text as JSON). The token is only ever in the request's address, which no error names:
    failures before an answer are raised without the exception under them. ``refusals`` are
    what the descriptions mean for this call, looked at before the usual ones.
    """
    if not token:
        raise PermanentError(NO_BOT)
    url = f"{API}/bot{token}/{method}"
    request: dict[str, Any]
    if files:
        form = {
            key: value if isinstance(value, str) else _json(value) for key, value in body.items()
        }
        request = {"data": form, "files": dict(files)}
    else:
        request = {"json": dict(body)}
    try:
        response = await _http.send(http, "POST", url, FAILURES, **request)
    except ConnectorError as error:
        raise error from None
    try:
        answer = _http.parse_json(response.content)
    except ValueError:
        answer = None
    if isinstance(answer, Mapping) and answer.get("ok") is True and "result" in answer:
        return answer["result"]
    raise refusal(response.status_code, answer, token, refusals)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def refusal(status: int, answer: Any, token: str, refusals: Refusals = ()) -> ConnectorError:
    """The error a failed answer means: ``error_code`` and ``description`` where Telegram
    sent them, the HTTP status where it did not (a proxy's page)."""
    body = _http.json_object(answer)
    code = body.get("error_code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else status
    description = _said(_http.json_text(body.get("description")), token)
    parameters = _http.json_object(body.get("parameters"))
    if code == 429:
        wait = parameters.get("retry_after")
        seconds = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
        return RateLimited("Telegram asks Portal to wait before posting again.", seconds)
    if code in (401, 404):  # Telegram's answer to a token it does not know
        return PermanentError(BOT_REFUSED)
    if code >= 500:
        return Retriable(f"Telegram is not working right now (error {code}); try again later.")
    migrated = parameters.get("migrate_to_chat_id")
    if isinstance(migrated, int) and not isinstance(migrated, bool):
        return PermanentError(
            f"This group became a supergroup, which Telegram now numbers {migrated}: "
            f"post to {migrated} instead."
        )
    lowered = description.lower()
    for fragments, kind, message in (*refusals, *_REFUSALS):
        if any(fragment in lowered for fragment in fragments):
            return kind(message)
    if code == 403:
        return PermanentError(BOT_MAY_NOT_POST)
    if code == 413:
        return PermanentError("The pictures are larger than Telegram takes in one message.")
    return PermanentError(f"Telegram refused this: {description or f'error {code}'}.")


def _said(description: str, token: str) -> str:
    """Telegram's own words, made safe to show: one line, short, and never the token."""
    text = _CONTROL.sub(" ", description).strip()
    if token:
        text = text.replace(token, "…")
    return text[:200]


# -- where a post goes, and what names it afterwards -------------------------------------------


def destination(raw: str) -> str:
    """The ``chat_id`` of a channel or group as a person names it: ``@username`` (or the
    name alone, or its ``t.me`` address) or its number (``-100…`` for channels and
    supergroups, ``-…`` for small groups)."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise PermanentError("Name the Telegram channel or group to post to, like @my_channel.")
    if _CHAT_ID.fullmatch(text):
        return text
    if text.lstrip("+").isdigit():
        raise PermanentError(
            "A channel's or group's number starts with a minus sign (-100… for a channel); "
            "Portal does not post into a person's private chat."
        )
    text = _ADDRESS.sub("", text).rstrip("/")
    if not _CHANNEL.fullmatch(text) or text.endswith("_"):
        raise PermanentError(
            "Name the Telegram channel or group as @username, or by its number, "
            "like -1001234567890."
        )
    return "@" + text.lower()


def message_url(chat: Mapping[str, Any], message_id: int) -> str | None:
    """A message's address: ``t.me/<username>/<id>`` in a public chat, ``t.me/c/<id>/<id>``
    (for its members) in a private channel or supergroup; small groups have none."""
    username = _http.json_text(chat.get("username"))
    if _CHANNEL.fullmatch(username):
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


def published(messages: Sequence[Any], *, pictures: bool) -> Published:
    """What names a post of one message or of an album: the first message's number as its id,
    and as its ``ref`` the chat's number, followed for a post with pictures by a colon and the
    number of every message it is made of (``-1001234567890:41,42,43``), which is what
    deleting it needs and what tells that its text is a caption."""
    found: list[tuple[int, Mapping[str, Any]]] = []
    for message in messages:
        item = _http.json_object(message)
        number = item.get("message_id")
        chat = _http.json_object(item.get("chat"))
        chat_id = chat.get("id")
        if not (isinstance(number, int) and number > 0 and isinstance(chat_id, int)):
            raise PermanentError(f"{UNEXPECTED}: the message it sent has no number.")
        found.append((number, chat))
    if not found:
        raise PermanentError(f"{UNEXPECTED}: it sent no message.")
    first, chat = found[0]
    ref = str(chat["id"])
    if pictures:
        ref += ":" + ",".join(str(number) for number, _ in found)
    return Published(id=str(first), url=message_url(chat, first), ref=ref)


def parse_reference(post: Published) -> tuple[str, list[int], bool]:
    """The chat, the message numbers and whether it has pictures, from what
    :func:`published` made; :class:`PermanentError` for anything else."""
    chat, colon, numbers = post.ref.partition(":")
    if not _CHAT_ID.fullmatch(chat) or not post.id.isascii() or not post.id.isdigit():
        raise PermanentError("This is not a post Portal published on Telegram.")
    if not colon:
        return chat, [int(post.id)], False
    if not _MESSAGE_IDS.fullmatch(numbers) or numbers.split(",")[0] != post.id:
        raise PermanentError("This is not a post Portal published on Telegram.")
    return chat, [int(number) for number in numbers.split(",")], True
