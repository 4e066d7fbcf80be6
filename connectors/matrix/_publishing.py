"""Posting into a room: the room a post goes to, the events it is made of, and taking it down
again (the why of it is in :mod:`connectors.matrix`)."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from typing import Any
from urllib.parse import quote

from connectors.base import InvalidHandle, PermanentError, PostRules, Retriable, Thread, Upload
from connectors.matrix._homeserver import Homeserver, MatrixError, NotFound
from connectors.matrix._ids import is_event_id, normalize_room, segment

MAX_TEXT_BYTES = 30_000
"""The longest text of one post, in UTF-8 bytes: escaped as JSON it is at most twice as long,
which leaves room in a 65,536-byte event for everything else the event holds."""
MAX_CONTENT_BYTES = 60_000
"""The most an event's content may take as JSON; its ids, hashes and signatures take the rest
of the 65,536 bytes (https://spec.matrix.org/latest/client-server-api/#size-limits)."""

POST_RULES = PostRules(max_length=MAX_TEXT_BYTES, max_media=10, max_media_bytes=10 * 1024 * 1024)

PART_OF = "portal.part_of"
"""The key, in a picture's event, that names the first event of the post it belongs to, so
that taking the post down finds its pictures. Clients ignore keys they do not know."""
CONTEXT_LIMIT = 100
"""How many of the account's own messages around a post are read to find its pictures (half
of them after it)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Controls, which show nothing: JSON writes those below a space as six bytes each. Tab and
line feed stay (two bytes each)."""


# -- the room --------------------------------------------------------------------------------


async def room_to_post_in(
    server: Homeserver, destination: str, thread: Thread | None
) -> tuple[str, str]:
    """The room a post goes to, as its ID and as it was named: the one named (an alias
    resolved), where the account is joined (an invitation is accepted), which is not
    encrypted. A part of a thread goes where the thread started."""
    started_in = thread.root.ref if thread else ""
    if not destination and not started_in:
        raise PermanentError("Name the Matrix room to post in, like #room:example.org.")
    try:
        named = normalize_room(destination or started_in)
    except InvalidHandle as error:
        raise PermanentError(error.message) from None
    room_id = await room_id_of(server, named)
    if started_in and room_id != started_in:
        raise PermanentError("A thread goes on in the Matrix room it started in.")
    await _join_if_invited(server, room_id, named)
    try:
        await server.call(
            "GET", f"/_matrix/client/v3/rooms/{segment(room_id)}/state/m.room.encryption"
        )
    except NotFound:
        return room_id, named
    raise PermanentError(
        f"The Matrix room {named} is encrypted, and Portal cannot encrypt: it does not post there."
    )


async def room_id_of(server: Homeserver, room: str) -> str:
    """The ID of a room named by its ID or alias
    (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3directoryroomroomalias)."""
    if room.startswith("!"):
        return room
    try:
        answer = await server.call("GET", f"/_matrix/client/v3/directory/room/{segment(room)}")
    except NotFound:
        raise PermanentError(f"There is no Matrix room {room}.") from None
    room_id = answer.get("room_id")
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        raise Retriable(f"The Matrix server did not say which room {room} is.")
    try:
        return normalize_room(room_id)
    except InvalidHandle:
        raise PermanentError(
            f"The Matrix server named a room for {room} that is not valid."
        ) from None


async def _join_if_invited(server: Homeserver, room_id: str, named: str) -> None:
    """Nothing when the account is in the room; it accepts an invitation; refuses otherwise."""
    joined = await server.call("GET", "/_matrix/client/v3/joined_rooms")
    rooms = joined.get("joined_rooms")
    if isinstance(rooms, list) and room_id in rooms:
        return
    membership = await _membership(server, room_id)
    if membership == "invite":
        try:
            await server.call("POST", f"/_matrix/client/v3/join/{segment(room_id)}", {})
        except MatrixError:
            raise PermanentError(
                f"This Matrix account is invited to the room {named}, but could not join it: "
                "accept the invitation in a Matrix app."
            ) from None
        return
    if membership == "ban":
        raise PermanentError(f"This Matrix account is banned from the room {named}.")
    raise PermanentError(
        f"This Matrix account is not in the room {named}: join the room first, and Portal "
        "can post there."
    )


async def _membership(server: Homeserver, room_id: str) -> str:
    """The account's membership of a room it is not joined to, as the room's summary says
    (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv1room_summaryroomidoralias);
    empty where the server does not tell."""
    try:
        summary = await server.call("GET", f"/_matrix/client/v1/room_summary/{segment(room_id)}")
    except MatrixError:
        return ""
    membership = summary.get("membership")
    return membership if isinstance(membership, str) else ""


# -- the events of a post --------------------------------------------------------------------


def transaction_id(key: str, index: int) -> str:
    """The transaction id of the ``index``-th event of the post published with ``key``: the
    same key always gives the same ids."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"portal.{digest}.{index}"


def plain_text(text: str) -> str:
    """The text of a post as one ``body``: line breaks as ``\\n``, no other controls."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def text_content(text: str, relation: dict[str, Any] | None) -> dict[str, Any]:
    """An ``m.text`` message (https://spec.matrix.org/latest/client-server-api/#mtext).

    ``m.mentions`` is empty: a post names no one to notify, so "@room" or a name in it does
    not notify anyone (https://spec.matrix.org/latest/client-server-api/#user-and-room-mentions)."""
    content: dict[str, Any] = {"msgtype": "m.text", "body": text, "m.mentions": {}}
    if relation:
        content["m.relates_to"] = relation
    return content


def image_content(
    upload: Upload, uri: str, relation: dict[str, Any] | None, part_of: str | None
) -> dict[str, Any]:
    """An ``m.image`` message (https://spec.matrix.org/latest/client-server-api/#mimage) whose
    ``body`` is the alt text, or the file's name where there is none."""
    info: dict[str, Any] = {"mimetype": upload.mime_type, "size": len(upload.data)}
    if upload.width > 0 and upload.height > 0:
        info["w"], info["h"] = upload.width, upload.height
    alt = plain_text(upload.description).strip()
    content: dict[str, Any] = {
        "msgtype": "m.image",
        "body": alt or filename(upload.mime_type),
        "url": uri,
        "info": info,
        "m.mentions": {},
    }
    if relation:
        content["m.relates_to"] = relation
    if part_of:
        content[PART_OF] = part_of
    return content


def thread_relation(root: str, previous: str) -> dict[str, Any]:
    """An event's place in a thread: under ``root``, following ``previous``
    (https://spec.matrix.org/latest/client-server-api/#threading). It is not a reply to
    ``previous``, so ``is_falling_back``: clients without threads show it as one."""
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": previous},
    }


def filename(mime_type: str) -> str:
    return "picture" + (mimetypes.guess_extension(mime_type) or "")


def encoded_size(content: dict[str, Any]) -> int:
    """The bytes of ``content`` as the server writes it (canonical JSON, UTF-8)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


async def send(
    server: Homeserver, room: tuple[str, str], transaction: str, content: dict[str, Any]
) -> str:
    """Send one message (https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid);
    its event id. The same transaction id again gives the first event's id back. ``room`` is
    the room's ID and its name for people."""
    room_id, named = room
    if encoded_size(content) > MAX_CONTENT_BYTES:
        raise PermanentError("This is too long for one Matrix message.")
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/send/m.room.message/{segment(transaction)}"
    try:
        sent = await server.call("PUT", path, content)
    except NotFound:
        raise PermanentError(f"There is no Matrix room {named} any more.") from None
    except MatrixError as error:
        if error.errcode == "M_FORBIDDEN" or error.status == 403:
            raise PermanentError(
                f"The Matrix room {named} does not let this account post in it."
            ) from None
        raise
    event_id = sent.get("event_id")
    if not isinstance(event_id, str) or not is_event_id(event_id):
        raise Retriable("The Matrix server did not say whether the post was sent.")
    return event_id


def permalink(room_id: str, event_id: str, via: str) -> str:
    """A matrix.to link to an event (https://spec.matrix.org/latest/appendices/#matrixto-navigation);
    ``via`` names a server in the room, which a room ID alone does not."""
    safe = "!$:@#[]._-~=+"
    return (
        f"https://matrix.to/#/{quote(room_id, safe=safe)}/{quote(event_id, safe=safe)}"
        f"?via={quote(via, safe=':[]')}"
    )


# -- taking a post down ----------------------------------------------------------------------


async def events_of_post(
    server: Homeserver, room_id: str, event_id: str, user_id: str
) -> list[str]:
    """The events of the post that starts with ``event_id`` and are not redacted yet: its
    pictures, then the event itself; none when the event is gone.

    The pictures follow the first event and name it (:data:`PART_OF`); they are found among
    the account's own messages after it
    (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3roomsroomidcontexteventid)."""
    event_filter = {"senders": [user_id], "types": ["m.room.message"]}
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/context/{segment(event_id)}"
    params = {"limit": str(CONTEXT_LIMIT), "filter": json.dumps(event_filter)}
    try:
        context = await server.call("GET", path, params=params)
    except NotFound:
        return []
    except MatrixError as error:
        if error.errcode == "M_FORBIDDEN" or error.status == 403:
            raise PermanentError(
                f"This Matrix account is no longer in the room {room_id}, so Portal cannot "
                "take the post down."
            ) from None
        raise
    event = context.get("event")
    if not isinstance(event, dict):
        return []
    if event.get("sender") != user_id:
        raise PermanentError("This Matrix message was not posted by this account.")
    after = context.get("events_after")
    found = [
        other["event_id"]
        for other in (after if isinstance(after, list) else [])
        if isinstance(other, dict)
        and other.get("sender") == user_id
        and isinstance(other.get("content"), dict)
        and other["content"].get(PART_OF) == event_id
        and is_event_id(other.get("event_id", ""))
        and not redacted(other)
    ]
    return [*found, event_id] if not redacted(event) else found


async def redact(
    server: Homeserver, room_id: str, event_id: str, *, reason: str = "", what: str = "post"
) -> None:
    """Redact one event (https://spec.matrix.org/latest/client-server-api/#redactions), with a
    transaction id of its own event id, so that a repeated call is one redaction. ``reason``
    is what the room's clients may show instead; ``what`` names the event in a refusal."""
    transaction = "portal.redact." + hashlib.sha256(event_id.encode()).hexdigest()[:40]
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/redact/{segment(event_id)}/{transaction}"
    try:
        await server.call("PUT", path, {"reason": reason} if reason else {})
    except NotFound:
        return
    except MatrixError as error:
        if error.errcode == "M_FORBIDDEN" or error.status == 403:
            raise PermanentError(
                f"The Matrix room {room_id} does not let this account take its {what} down."
            ) from None
        raise


def redacted(event: dict[str, Any]) -> bool:
    unsigned = event.get("unsigned")
    return isinstance(unsigned, dict) and "redacted_because" in unsigned
