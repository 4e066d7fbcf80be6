"""Handles, DIDs and TIDs as the specs write them: syntax, the reasons one is refused,
``did:web``, and a TID made from a key.

https://atproto.com/specs/handle, https://atproto.com/specs/did and
https://atproto.com/specs/tid; the interop test vectors of those pages are in
``tests/testdata/bluesky/syntax`` (the TID ones in ``tests/connectors/test_bluesky_publish.py``).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from connectors.base import InvalidHandle

HANDLE_MAX_LENGTH = 253
DID_MAX_LENGTH = 2048
_HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_DID_PLC = re.compile(r"did:plc:[a-z2-7]{24}")
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
"""base32-sortable: the digits of a TID, in the order of their values."""
_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_DERIVED_TIME_BITS = 49
DISALLOWED_TLDS = frozenset(
    {"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}
)
"""Valid handle syntax that must never resolve (https://atproto.com/specs/handle)."""
INVALID_HANDLE = "handle.invalid"
"""What services show for an account whose handle is not confirmed."""


def is_valid_handle(text: str) -> bool:
    """Handle syntax exactly as the spec defines it (no case folding, no trimming)."""
    return len(text) <= HANDLE_MAX_LENGTH and _HANDLE.fullmatch(text) is not None


def is_valid_did(text: str) -> bool:
    """Generic DID syntax as atproto accepts it, whatever the method."""
    return len(text) <= DID_MAX_LENGTH and _DID.fullmatch(text) is not None


def handle_problem(handle: str) -> str | None:
    """Why a (lowercased) handle cannot be an account's, or ``None`` when it can."""
    if not handle.isascii():
        return (
            "A handle is written in plain ASCII letters, digits, hyphens and dots; "
            "write an internationalised domain in its xn-- form."
        )
    if len(handle) > HANDLE_MAX_LENGTH:
        return f"A handle has at most {HANDLE_MAX_LENGTH} characters."
    if "." not in handle:
        return "A handle is a domain name with a dot, like ada.bsky.social."
    if not is_valid_handle(handle):
        labels = handle.split(".")
        if any(not label for label in labels):
            return "A handle cannot have empty parts, or start or end with a dot."
        if any(len(label) > 63 for label in labels):
            return "Each part of a handle between dots has at most 63 characters."
        if any(label.startswith("-") or label.endswith("-") for label in labels):
            return "A part of a handle cannot start or end with a hyphen."
        if labels[-1][:1].isdigit():
            return "The last part of a handle cannot start with a digit."
        return "A handle has only letters, digits, hyphens and dots."
    tld = handle.rsplit(".", 1)[1]
    if handle == INVALID_HANDLE or tld in DISALLOWED_TLDS:
        return f"Handles under .{tld} cannot be used on the network."
    return None


def did_problem(did: str) -> str | None:
    """Why a DID cannot be an atproto account's (``did:plc`` and ``did:web`` only)."""
    if not is_valid_did(did):
        return "This is not a valid DID (did:plc:… or did:web:…)."
    method = did.split(":", 2)[1]
    if method == "plc":
        if _DID_PLC.fullmatch(did) is None:
            return "A did:plc identifier has 24 characters (letters a-z and digits 2-7)."
        return None
    if method == "web":
        try:
            web_host(did)
        except InvalidHandle as error:
            return error.message
        return None
    return f"did:{method} is not a DID method that atproto accounts use (did:plc or did:web)."


def web_host(did: str) -> str:
    """The ``host[:port]`` of a ``did:web`` (only ``localhost`` may have a port)."""
    identifier = did.removeprefix("did:web:")
    if ":" in identifier:
        raise InvalidHandle("atproto accepts only host-level did:web identifiers, without a path.")
    host = unquote(identifier).lower()
    name, _, port = host.partition(":")
    if port and (name != "localhost" or not port.isdigit()):
        raise InvalidHandle("A did:web can carry a port only for localhost, in development.")
    if name != "localhost" and not is_valid_handle(name):
        raise InvalidHandle("A did:web names a host name, like did:web:example.com.")
    if name != "localhost" and name.rsplit(".", 1)[1] in DISALLOWED_TLDS - {"localhost"}:
        raise InvalidHandle(f"A did:web under .{name.rsplit('.', 1)[1]} cannot be resolved.")
    return host


def is_loopback_host(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def normalize_did(text: str) -> str:
    """A DID as typed, in its canonical case (both atproto methods are case-insensitive)."""
    method, _, rest = text[4:].partition(":")
    method = method.lower()
    if method == "plc":
        return f"did:plc:{rest.lower()}"
    if method == "web":
        return "did:web:" + rest.lower().replace("%3a", "%3A")
    return f"did:{method}:{rest}"


def is_valid_tid(text: str) -> bool:
    """TID syntax: 13 base32-sortable digits, the first of them with the top bit clear."""
    return _TID.fullmatch(text) is not None


def tid(micros: int, clock_id: int) -> str:
    """The TID of a time (microseconds since the Unix epoch, 53 bits) and a clock identifier
    (10 bits): the 64-bit integer ``0 | micros | clock_id``, big-endian, in base32-sortable."""
    if not 0 <= micros < 1 << 53 or not 0 <= clock_id < 1 << 10:
        raise ValueError("A TID holds a 53-bit time and a 10-bit clock identifier.")
    value = micros << 10 | clock_id
    return "".join(TID_ALPHABET[value >> shift & 31] for shift in range(60, -1, -5))


def derived_tid(key: str) -> str:
    """A TID that depends on ``key`` alone: the same key gives the same TID on every call.

    A key that begins with a TID and a separator (``<tid>-…``, ``<tid>.…``: the time its
    publishing was decided) keeps that TID's time, plus the number after its last dot (the
    part of a thread), so the record sorts where it was written; its clock identifier comes
    from the key's SHA-256. Any other key takes time and clock identifier from its SHA-256,
    the time kept under 2^49 microseconds (before 1988): no TID made from a clock today is one
    of these, and none of these sorts above the records written now (a repository lists
    records by key). The spec warns that a TID's time is not a creation time to trust; the
    record's own ``createdAt`` is.
    """
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    head, separator = key[:13], key[13:14]
    if separator in ("-", ".") and is_valid_tid(head):
        micros = _tid_time(head)
        part = key.rsplit(".", 1)[1] if "." in key[14:] else ""
        if part.isdigit() and len(part) < 6:
            micros += int(part)
        if micros < 1 << 53:
            return tid(micros, value & 1023)
    return tid(value >> 10 & ((1 << _DERIVED_TIME_BITS) - 1), value & 1023)


def _tid_time(text: str) -> int:
    """The time of a valid TID, in microseconds since the Unix epoch."""
    value = 0
    for char in text:
        value = value << 5 | TID_ALPHABET.index(char)
    return value >> 10
