"""A direct message after it went out: whether a try before went out, what the recipient
wrote back in its room, whether they read it, and taking it back (the why of it is in
:mod:`connectors.matrix`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import MAX_ANSWERS, Answer, Delivered, PermanentError
from connectors.matrix._answers import without_fallback
from connectors.matrix._homeserver import Homeserver, MatrixError, NotFound
from connectors.matrix._ids import is_event_id, segment
from connectors.matrix._publishing import permalink, redact, redacted

PAGE = 100
PAGES = 5
"""How many pages of a room's timeline are read back from its newest event, at most."""
SYNC_ROUNDS = 4
"""How many /sync requests are made to catch up with a room's receipts, at most."""
REASON = "Taken back by the sender"
"""Why a message was withdrawn, as the recipient's client may show it."""

TEXT_TYPES = frozenset({"m.text", "m.notice", "m.emote"})
SIGNS = {
    "m.image": "[image]",
    "m.video": "[video]",
    "m.audio": "[audio]",
    "m.file": "[file]",
    "m.location": "[location]",
}
"""What stands for a message that is not text."""
OTHER = "[message]"
READ_WITH = frozenset({"m.room.message", "m.reaction", "m.sticker"})
"""What a person sends only once they saw the conversation: a message of theirs after ours
means ours was read."""
_NOTHING = {"not_types": ["*"]}
LOOKBACK = timedelta(days=1)
"""How far back a room is searched for a message that went out unrecorded: a try is
repeated within hours (``portal.domain.messages.deliver``)."""


async def sent_before(
    server: Homeserver, rooms: Sequence[str], account: str, transaction: str
) -> Delivered | None:
    """Where a try before this one sent the message whose events have the transaction id
    ``transaction`` (or one made from it, ``<transaction>.<part>``): the first of ``rooms``
    in which this session of ``account`` sent one in the last :data:`LOOKBACK`, with the
    message's own event where it is there (else an empty id: only a part of it went). The
    server tells the device that sent an event its transaction id
    (``unsigned.transaction_id``). Each room's messages of ``account`` are read back from
    the newest; a room the account is no longer in holds none."""
    since = datetime.now(UTC) - LOOKBACK
    ours = {"types": ["m.room.message"], "senders": [account]}
    for room_id in rooms:
        try:
            async with contextlib.aclosing(_pages(server, room_id, ours)) as pages:
                async for page in pages:
                    for event in page:
                        sent = _transaction_of(event)
                        if sent == transaction:
                            return Delivered(str(event["event_id"]), thread=room_id)
                        if sent.startswith(f"{transaction}."):
                            # A part sent before the message, which is newer: it did not go.
                            return Delivered("", thread=room_id)
                    if any((written_at(event) or since) < since for event in page):
                        break
        except PermanentError:
            continue  # not in the room any more
    return None


def _transaction_of(event: dict[str, Any]) -> str:
    """The transaction id of an event the reading device sent; empty for any other."""
    unsigned = event.get("unsigned")
    sent = unsigned.get("transaction_id") if isinstance(unsigned, dict) else None
    event_id = event.get("event_id")
    if not isinstance(sent, str) or not isinstance(event_id, str) or not is_event_id(event_id):
        return ""
    return sent


async def answers(
    server: Homeserver, room_id: str, sender: str, since: datetime, via: str
) -> list[Answer]:
    """What ``sender`` wrote in ``room_id`` since ``since``, oldest first, at most the newest
    :data:`MAX_ANSWERS`: the room's messages read back from the newest, only theirs."""
    only_theirs = {"types": ["m.room.message"], "senders": [sender]}
    found: list[Answer] = []
    async with contextlib.aclosing(_pages(server, room_id, only_theirs)) as pages:
        async for page in pages:
            oldest: datetime | None = None
            for event in page:
                written = written_at(event)
                if written is None:
                    continue
                oldest = written if oldest is None else min(oldest, written)
                answer = answer_of(event, room_id, via) if written >= since else None
                if answer is not None and event.get("sender") == sender:
                    found.append(answer)
            if len(found) >= MAX_ANSWERS or (oldest is not None and oldest < since):
                break
    return found[:MAX_ANSWERS][::-1]


def answer_of(event: dict[str, Any], room_id: str, via: str) -> Answer | None:
    """An answer of a message event: its text (the newest edit's, where it was edited), or
    a sign for what is not text; ``None`` for an edit itself or an event redacted."""
    content = event.get("content")
    event_id = event.get("event_id")
    if not isinstance(content, dict) or not content or redacted(event):
        return None
    if event.get("type") != "m.room.message" or not isinstance(event_id, str):
        return None
    if not is_event_id(event_id) or _relation(content).get("rel_type") == "m.replace":
        return None
    written = written_at(event)
    if written is None:
        return None
    return Answer(
        event_id,
        _text(_edited(event) or content),
        written,
        url=permalink(room_id, event_id, via),
    )


async def read(server: Homeserver, room_id: str, event_id: str, reader: str) -> bool:
    """Whether ``reader`` read ``event_id``: their public read receipt is on it or on an event
    after it (a receipt acknowledges everything before it), or they wrote after it.

    The timeline is read back from the newest event until ``event_id``; a message further
    back than :data:`PAGES` pages counts as not read."""
    receipts = await read_receipts(server, room_id, reader)
    if event_id in receipts:
        return True
    everything = {"lazy_load_members": True}
    async with contextlib.aclosing(_pages(server, room_id, everything)) as pages:
        async for page in pages:
            for event in page:
                if event.get("event_id") == event_id:
                    return False
                if event.get("event_id") in receipts:
                    return True
                if event.get("sender") == reader and event.get("type") in READ_WITH:
                    return True
    return False


async def read_receipts(server: Homeserver, room_id: str, reader: str) -> set[str]:
    """The events ``reader`` has put a public read receipt (``m.read``) on in ``room_id``.

    Receipts of others come only with /sync, as ephemeral events of the room
    (https://spec.matrix.org/latest/client-server-api/#receipts): a sync filtered to that
    room and to receipts alone (no timeline, state, presence or account data), which the
    account does not show as online. A server may answer a sync it answered before from a
    cache (Synapse does for two minutes); syncing on from where that answer left off, until
    nothing is new, brings what came since."""
    sync_filter = {
        "presence": _NOTHING,
        "account_data": _NOTHING,
        "room": {
            "rooms": [room_id],
            "timeline": _NOTHING,
            "state": _NOTHING,
            "account_data": _NOTHING,
            "ephemeral": {"types": ["m.receipt"]},
        },
    }
    params = {"filter": _json(sync_filter), "set_presence": "offline", "timeout": "0"}
    found: set[str] = set()
    since = ""
    for _ in range(SYNC_ROUNDS):
        synced = await server.call(
            "GET", "/_matrix/client/v3/sync", params={**params, "since": since} if since else params
        )
        found |= set(_receipted(synced, room_id, reader))
        batch = synced.get("next_batch")
        if not isinstance(batch, str) or not batch or batch == since:
            break
        since = batch
    return found


async def withdraw(server: Homeserver, room_id: str, event_id: str, account: str) -> None:
    """Redact ``event_id``, which ``account`` sent; one already redacted, or gone, is done."""
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/event/{segment(event_id)}"
    try:
        event = await server.call("GET", path)
    except NotFound:
        # Gone, unless it is the room that the account is not in.
        joined = await server.call("GET", "/_matrix/client/v3/joined_rooms")
        rooms = joined.get("joined_rooms")
        if isinstance(rooms, list) and room_id in rooms:
            return
        raise PermanentError(not_in_room(room_id)) from None
    except MatrixError as error:
        if error.errcode == "M_FORBIDDEN" or error.status == 403:
            raise PermanentError(not_in_room(room_id)) from None
        raise
    if event.get("sender") != account:
        raise PermanentError("This Matrix message was not sent by this account.")
    if not redacted(event):
        await redact(server, room_id, event_id, reason=REASON, what="message")
    picture = await _picture_before(server, room_id, event, account)
    if picture is not None:
        await redact(server, room_id, picture, reason=REASON, what="picture")


async def _picture_before(
    server: Homeserver, room_id: str, text: dict[str, Any], account: str
) -> str | None:
    """The id of the picture sent just before the text event ``text``, with the transaction id
    the text's and ``.picture`` (as ``send_message`` sends one), not yet redacted: the
    server shows the sending device its own transaction ids."""
    transaction = _transaction_of(text)
    if not transaction:
        return None
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/context/{segment(str(text['event_id']))}"
    around = await server.call("GET", path, params={"limit": "6"})
    before = around.get("events_before")
    for event in before if isinstance(before, list) else []:
        if not isinstance(event, dict) or event.get("sender") != account or redacted(event):
            continue
        if _transaction_of(event) == f"{transaction}.picture":
            return str(event["event_id"])
    return None


def written_at(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("origin_server_ts")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


async def _pages(
    server: Homeserver, room_id: str, event_filter: dict[str, Any]
) -> AsyncGenerator[list[dict[str, Any]]]:
    """The events of ``room_id`` that ``event_filter`` lets through, a page at a time from
    the newest back, at most :data:`PAGES` pages
    (https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3roomsroomidmessages)."""
    path = f"/_matrix/client/v3/rooms/{segment(room_id)}/messages"
    params = {"dir": "b", "limit": str(PAGE), "filter": _json(event_filter)}
    for _ in range(PAGES):
        try:
            page = await server.call("GET", path, params=params)
        except MatrixError as error:
            if isinstance(error, NotFound) or error.errcode == "M_FORBIDDEN" or error.status == 403:
                raise PermanentError(not_in_room(room_id)) from None
            raise
        chunk = page.get("chunk")
        events = [e for e in chunk if isinstance(e, dict)] if isinstance(chunk, list) else []
        if events:
            yield events
        end = page.get("end")
        if not events or not isinstance(end, str) or not end or end == params.get("from"):
            return
        params["from"] = end


def not_in_room(room_id: str) -> str:
    return (
        f"This Matrix account is not in the conversation any more (the room {room_id}), so "
        "Portal cannot follow it."
    )


def _receipted(synced: dict[str, Any], room_id: str, reader: str) -> Iterator[str]:
    """The events of ``room_id`` with a read receipt of ``reader`` in a /sync answer."""
    rooms = synced.get("rooms")
    joined = rooms.get("join") if isinstance(rooms, dict) else None
    room = joined.get(room_id) if isinstance(joined, dict) else None
    ephemeral = room.get("ephemeral") if isinstance(room, dict) else None
    events = ephemeral.get("events") if isinstance(ephemeral, dict) else None
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("type") != "m.receipt":
            continue
        content = event.get("content")
        for event_id, receipts in (content if isinstance(content, dict) else {}).items():
            readers = receipts.get("m.read") if isinstance(receipts, dict) else None
            if isinstance(readers, dict) and reader in readers:
                yield event_id


def _relation(content: dict[str, Any]) -> dict[str, Any]:
    relation = content.get("m.relates_to")
    return relation if isinstance(relation, dict) else {}


def _edited(event: dict[str, Any]) -> dict[str, Any] | None:
    """The content of the newest edit of ``event`` by its sender, where the server bundled
    it (https://spec.matrix.org/latest/client-server-api/#server-side-aggregation-of-mreplace-relationships)."""
    unsigned = event.get("unsigned")
    relations = unsigned.get("m.relations") if isinstance(unsigned, dict) else None
    edit = relations.get("m.replace") if isinstance(relations, dict) else None
    if not isinstance(edit, dict) or edit.get("sender") != event.get("sender"):
        return None
    content = edit.get("content")
    new = content.get("m.new_content") if isinstance(content, dict) else None
    return new if isinstance(new, dict) and new else None


def _text(content: dict[str, Any]) -> str:
    """The text of a message's content, without the quote of a reply; a sign where it is not
    text (a picture: ``[image]``)."""
    msgtype = content.get("msgtype")
    if msgtype in TEXT_TYPES:
        body = content.get("body")
        text = without_fallback(body) if _relation(content).get("m.in_reply_to") else body
        if isinstance(text, str) and text.strip():
            return text
        return OTHER
    return SIGNS.get(msgtype, OTHER) if isinstance(msgtype, str) else OTHER


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))
