"""What people did with a post in a room: replies in its thread or to it, and reactions.

A Matrix room keeps them as events that point at the post
(https://spec.matrix.org/latest/client-server-api/#forming-relationships-between-events):

- replies in the post's thread (``rel_type: m.thread``) and reactions to it
  (``m.annotation``) are its relations
  (``GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}``);
- a reply outside a thread names the post in ``m.in_reply_to``, which is not a relation: it
  is looked for among the messages that follow the post (``/context``).

A reaction counts as a like, one per person whatever the emoji.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.base import Actor, InvalidHandle, PermanentError, Response
from connectors.matrix._homeserver import Homeserver, MatrixError, NotFound
from connectors.matrix._ids import is_event_id, normalize_user_id, segment
from connectors.matrix._publishing import permalink, redacted

RELATIONS_LIMIT = 100
"""How many of the post's relations are read: the newest first."""
FOLLOWING = 100
"""How many of the room's messages after the post are looked through for replies to it."""
NAMES = 50
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Of how many people who answered the display names are looked up, at most."""


async def answers(server: Homeserver, room_id: str, event_id: str, via: str) -> list[Response]:
    """The replies and reactions to ``event_id`` in ``room_id``, with people's display names;
    none when the event is gone (or the account is no longer in the room)."""
    try:
        related = await server.call(
            "GET",
            f"/_matrix/client/v1/rooms/{segment(room_id)}/relations/{segment(event_id)}",
            params={"limit": str(RELATIONS_LIMIT), "dir": "b"},
        )
        following = await server.call(
            "GET",
            f"/_matrix/client/v3/rooms/{segment(room_id)}/context/{segment(event_id)}",
            params={
                "limit": str(FOLLOWING),
                "filter": json.dumps({"types": ["m.room.message"], "lazy_load_members": True}),
            },
        )
    except NotFound:
        return []
    except MatrixError as error:
        if error.errcode == "M_FORBIDDEN" or error.status == 403:
            raise PermanentError(
                f"This Matrix account is no longer in the room {room_id}: Portal cannot read "
                "the answers to the post."
            ) from None
        raise
    events = [*_events(related.get("chunk")), *_events(following.get("events_after"))]
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for event in events:
        kind = kind_of(event, event_id)
        if kind is None:
            continue
        key = (kind, event["sender"] if kind == "like" else event["event_id"])
        found.setdefault(key, (kind, event))
    people: dict[str, Actor] = {}
    for index, sender in enumerate(dict.fromkeys(event["sender"] for _, event in found.values())):
        people[sender] = actor(sender, await server.profile(sender) if index < NAMES else {})
    return [
        _response(kind, event, room_id, via, people[event["sender"]])
        for kind, event in found.values()
    ]


def kind_of(event: dict[str, Any], post_id: str) -> str | None:
    """``reply`` or ``like`` for an event that answers the post (or, for a reaction, any
    event of its thread), ``None`` for the others (edits, redacted events, other talk)."""
    content = event.get("content")
    if not isinstance(content, dict) or not content or redacted(event):
        return None
    if not is_event_id(event.get("event_id", "")) or not _user(event.get("sender")):
        return None
    relation = content.get("m.relates_to")
    relation = relation if isinstance(relation, dict) else {}
    kind = event.get("type")
    if kind == "m.reaction":
        liked = relation.get("rel_type") == "m.annotation" and relation.get("event_id") == post_id
        return "like" if liked else None
    if kind != "m.room.message" or relation.get("rel_type") == "m.replace":
        return None
    if relation.get("rel_type") == "m.thread" and relation.get("event_id") == post_id:
        return "reply"
    replying = relation.get("m.in_reply_to")
    if isinstance(replying, dict) and replying.get("event_id") == post_id:
        return "reply"
    return None


def _response(kind: str, event: dict[str, Any], room_id: str, via: str, author: Actor) -> Response:
    sender = event["sender"]
    content = event["content"]
    stamp = event.get("origin_server_ts")
    when = (
        datetime.fromtimestamp(stamp / 1000, UTC)
        if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0
        else None
    )
    if kind == "like":
        return Response("like", sender, author, published=when)
    relation = content.get("m.relates_to")
    relation = relation if isinstance(relation, dict) else {}
    replying = relation.get("m.in_reply_to")
    parent = replying.get("event_id") if isinstance(replying, dict) else None
    parent = parent or relation.get("event_id")
    return Response(
        "reply",
        event["event_id"],
        author,
        published=when,
        text=without_fallback(content.get("body")),
        url=permalink(room_id, event["event_id"], via),
        in_reply_to=parent if isinstance(parent, str) else None,
    )


def without_fallback(body: Any) -> str:
    """A message's text without the quoted lines a client puts before a reply (the reply
    fallback, https://spec.matrix.org/v1.12/client-server-api/#fallbacks-for-rich-replies)."""
    if not isinstance(body, str):
        return ""
    lines = body.split("\n")
    if lines and lines[0].startswith("> "):
        while lines and lines[0].startswith(">"):
            lines.pop(0)
    return "\n".join(lines).strip()


def _events(value: Any) -> list[dict[str, Any]]:
    return [event for event in value if isinstance(event, dict)] if isinstance(value, list) else []


def _user(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        normalize_user_id(value)
    except InvalidHandle:
        return False
    return True


def actor(user_id: str, profile: dict[str, Any]) -> Actor:
    """A Matrix user, with the display name of their profile (``GET /profile/{userId}``)."""
    name = profile.get("displayname")
    display_name = _UNPRINTABLE.sub("", name).strip()[:256] if isinstance(name, str) else ""
    handle = normalize_user_id(user_id)
    return Actor(
        network="matrix",
        id=user_id,
        handle=handle,
        display_name=display_name,
        url=f"https://matrix.to/#/{quote(handle, safe='@:[]/=+')}",
    )
