"""Matrix identifiers: user IDs, room IDs and aliases, server names and the links that name
them."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit

from connectors import base
from connectors.base import InvalidHandle

MAX_USER_ID = 255
MAX_ROOM = 255
"""Room IDs and aliases have at most 255 bytes, sigil and server name included."""
_LOCALPART = re.compile(r"^[a-z0-9._=/+-]+$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_IPV4 = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")
_IPV6_CHARS = re.compile(r"^[0-9a-fA-F:.]{2,45}$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_OPAQUE = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
"""The opaque part of a room ID: printable ASCII other than a space and a colon."""
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_MATRIX_URI = re.compile(r"^matrix:(?://[^/]*/)?([a-z]+)/(.*)$", re.IGNORECASE)
"""``matrix:u/ada:example.org``; the ``@matrix:example.org`` typed without its ``@`` is not one."""


def normalize_user_id(raw: str) -> str:
    """The canonical user ID of what a person typed: an ID, a matrix.to link or a ``matrix:``
    URI (https://spec.matrix.org/latest/appendices/#user-identifiers)."""
    text = base.clean(raw, max_length=4 * MAX_USER_ID)
    text = _identifier_of_link(text, "a person")
    if text[:1] in ("#", "!", "$"):
        raise InvalidHandle(
            "This is a Matrix room, not a person: give a user ID like @ada:example.org."
        )
    text = text.removeprefix("@")
    local, colon, server = text.partition(":")
    if not colon:
        hint = " (with a colon, not a second @)" if "@" in text else ""
        raise InvalidHandle(f"A Matrix ID is a name and a server{hint}, like @ada:example.org.")
    user_id = f"@{_localpart(local)}:{_server_name(server)}"
    if len(user_id) > MAX_USER_ID:
        raise InvalidHandle(f"A Matrix ID has at most {MAX_USER_ID} characters.")
    return user_id


def server_of(user_id: str) -> str:
    """The server name of a normalised user ID: everything after the first colon."""
    return user_id.partition(":")[2]


def normalize_room(raw: str) -> str:
    """A room as a person names it: its ID (``!abc:example.org``, or ``!abc`` since room
    version 12), its alias (``#room:example.org``), or a matrix.to link or ``matrix:`` URI to
    either (https://spec.matrix.org/latest/appendices/#room-ids,
    https://spec.matrix.org/latest/appendices/#room-aliases).

    A room ID is opaque and case-sensitive, so it is kept exactly as given; an alias keeps its
    name and has its server name lower-cased, as a user ID has."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidHandle("Name the Matrix room, like #room:example.org.")
    try:
        text = base.clean(raw, max_length=4 * MAX_ROOM)
    except InvalidHandle:
        raise InvalidHandle("This is not a Matrix room, like #room:example.org.") from None
    text = _identifier_of_link(text, "a room")
    if text[:1] in ("#", "!"):
        # A link to an event in a room: the room is what comes before the event.
        text = text.split("/$", 1)[0].split("/e/", 1)[0]
    if text.startswith("@"):
        raise InvalidHandle(
            "This is a person, not a Matrix room: give a room like #room:example.org."
        )
    if text.startswith("!"):
        room = _room_id(text)
    elif text.startswith("#"):
        local, colon, server = text[1:].partition(":")
        if not local or not colon:
            raise InvalidHandle("A Matrix room address is a name and a server: #room:example.org.")
        room = f"#{local}:{_server_name(server)}"
    else:
        raise InvalidHandle(
            "A Matrix room is named by its address, like #room:example.org, or its ID, "
            "like !abc:example.org."
        )
    if len(room.encode()) > MAX_ROOM:
        raise InvalidHandle(f"A Matrix room ID or address has at most {MAX_ROOM} bytes.")
    return room


def is_event_id(text: str) -> bool:
    """Whether ``text`` can be an event ID (``$`` and printable ASCII,
    https://spec.matrix.org/latest/appendices/#event-ids)."""
    return (
        isinstance(text, str)
        and 1 < len(text) <= 255
        and text.startswith("$")
        and _PRINTABLE.match(text[1:]) is not None
    )


def _room_id(text: str) -> str:
    opaque, colon, server = text[1:].partition(":")
    if not _OPAQUE.match(opaque) or (colon and not server):
        raise InvalidHandle("This Matrix room ID is not valid: it looks like !abc:example.org.")
    if colon:
        _server_name(server)  # checked, but kept as given: the whole ID is compared as is
    return text


def _identifier_of_link(text: str, what: str) -> str:
    """The identifier in a matrix.to link or a ``matrix:`` URI; other text as it is. ``what``
    is what the link should name, for the message when it names nothing Portal reads."""
    lowered = text.lower()
    uri = _MATRIX_URI.match(text)
    if uri:
        path = unquote(uri.group(2).split("?", 1)[0].split("#", 1)[0]).strip("/")
        kind = uri.group(1).lower()
        if kind in ("u", "user"):
            return "@" + path
        if kind == "r":
            return "#" + path
        if kind == "roomid":
            return "!" + path
        raise InvalidHandle(f"This matrix: link does not name {what}.")
    if lowered.startswith("matrix.to/#"):
        text, lowered = "https://" + text, "https://" + lowered
    if "://" not in lowered:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidHandle("This address cannot be read.") from None
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != "matrix.to":
        raise InvalidHandle("Give a Matrix ID like @ada:example.org, or a matrix.to link.")
    identifier = unquote(parts.fragment.split("?", 1)[0]).strip("/")
    if not identifier:
        raise InvalidHandle("This matrix.to link does not name anyone.")
    return identifier


def _localpart(raw: str) -> str:
    local = raw.lower()
    if not local:
        raise InvalidHandle("A Matrix ID has a name before the colon, like @ada:example.org.")
    if not _LOCALPART.match(local):
        raise InvalidHandle(
            "The name in a Matrix ID has only the letters a-z, digits and . _ = - / +"
        )
    return local


def _server_name(raw: str) -> str:
    """A server name by the spec's grammar, lower-cased (IDNA for a Unicode DNS name)."""
    if not raw:
        raise InvalidHandle("A Matrix ID has a server after the colon, like @ada:example.org.")
    if raw.startswith("["):
        address, bracket, rest = raw[1:].partition("]")
        if not bracket or not _IPV6_CHARS.match(address):
            raise InvalidHandle("This server's IPv6 address is not valid.")
        try:
            host = f"[{ipaddress.IPv6Address(address).compressed}]"
        except ValueError:
            raise InvalidHandle("This server's IPv6 address is not valid.") from None
        port = _port(rest[1:]) if rest.startswith(":") else None
        if rest and port is None:
            raise InvalidHandle("This server name has something after its address.")
    else:
        name, colon, port_text = raw.partition(":")
        port = _port(port_text) if colon else None
        host = _dns_or_ipv4(name)
    return f"{host}:{port}" if port is not None else host


def _port(text: str) -> int:
    if not _PORT.match(text) or not 0 < int(text) < 65536:
        raise InvalidHandle("This server's port is not a number from 1 to 65535.")
    return int(text)


def _dns_or_ipv4(name: str) -> str:
    if _IPV4.match(name):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise InvalidHandle(f"{name!r} is not a valid IP address.") from None
    host = name.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidHandle(f"{name[:80]!r} is not a valid server name.") from None
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidHandle(f"{name[:80]!r} is not a valid server name, like example.org.")
    return host


def host_of(server_name: str) -> str:
    if server_name.startswith("["):
        return server_name[: server_name.index("]") + 1]
    return server_name.partition(":")[0]


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def segment(identifier: str) -> str:
    """An identifier as one path segment (a localpart may hold a ``/``)."""
    return quote(identifier, safe="")
