"""Telegram handles and the Login Widget (the why of both is in :mod:`connectors.telegram`)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors import base
from connectors.base import Actor, InvalidHandle, PermanentError

NETWORK = "telegram"

FUTURE_SKEW = timedelta(seconds=60)
"""How far in the future an ``auth_date`` may be, for clocks that differ a little."""
MAX_FIELDS = 20
MAX_FIELD_LENGTH = 1024
MAX_TOTAL_LENGTH = 4096
REQUIRED = ("id", "auth_date", "hash")

_HOSTS = ("t.me", "telegram.me", "telegram.dog")
_CHARACTERS = re.compile(r"[a-z0-9_]+", re.ASCII)
_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)
_DIGITS = re.compile(r"[1-9][0-9]{0,19}", re.ASCII)
_KEY = re.compile(r"[a-z_]{1,32}", re.ASCII)
_RESERVED_PATHS = frozenset(
    {"joinchat", "addstickers", "addemoji", "addtheme", "addlist", "setlanguage", "share",
     "proxy", "socks", "login", "invoice", "boost", "confirmphone", "contact", "giftcode"}
)  # fmt: skip


class InvalidLogin(PermanentError):
    """What the Login Widget sent does not prove a Telegram account."""


def _username(raw: str) -> str:
    name = raw.lower()
    if not name:
        raise InvalidHandle("Enter a Telegram username.")
    if not _CHARACTERS.fullmatch(name):
        raise InvalidHandle("A Telegram username has only letters (a–z), digits and underscores.")
    if len(name) < 5:
        raise InvalidHandle("A Telegram username has at least 5 characters.")
    if len(name) > 32:
        raise InvalidHandle("A Telegram username has at most 32 characters.")
    if not name[0].isalpha():
        raise InvalidHandle("A Telegram username starts with a letter.")
    if name.endswith("_"):
        raise InvalidHandle("A Telegram username does not end with an underscore.")
    return name


def _name_in_link(text: str) -> str:
    """The username in ``tg://resolve?domain=…``, ``t.me/…`` or ``….t.me``."""
    if text[:5].lower() == "tg://":
        try:
            parts = urlsplit(text)
        except ValueError as error:
            raise InvalidHandle("This Telegram link cannot be read.") from error
        domains = parse_qs(parts.query).get("domain", [])
        if parts.netloc.lower() != "resolve" or len(domains) != 1:
            raise InvalidHandle("This Telegram link does not name a username.")
        return domains[0]
    candidate = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(candidate)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as error:
        raise InvalidHandle("This address cannot be read.") from error
    if parts.username is not None or parts.password is not None or port is not None:
        raise InvalidHandle("Give the address as t.me shows it, like https://t.me/ada_lovelace.")
    if host.endswith(".t.me") and host.count(".") == 2 and parts.path.strip("/") == "":
        if parts.scheme not in ("http", "https"):
            raise InvalidHandle("Give a web address that starts with https://.")
        return host.removesuffix(".t.me")
    path = base.path_from_url(text, _HOSTS) or ""
    segments = path.split("/")
    if segments[0] == "s" and len(segments) == 2:  # a channel's web preview
        segments = segments[1:]
    if len(segments) == 2 and segments[1].isdigit():  # a message: its channel or group
        segments = segments[:1]
    name = segments[0]
    if len(segments) != 1 or name.startswith("+") or name.lower() in _RESERVED_PATHS or not name:
        raise InvalidHandle("This t.me address is not a profile: give one like t.me/ada_lovelace.")
    return name


def normalize_handle(raw: str) -> str:
    """A username, from itself (``@`` or not) or from a link to it."""
    text = base.clean(raw, max_length=200)
    if "/" in text or "://" in text or text.lower().endswith(".t.me"):
        return _username(_name_in_link(text))
    return _username(text.removeprefix("@"))


def profile_url(handle: str) -> str:
    return f"https://t.me/{handle}"


def data_check_string(fields: Mapping[str, str]) -> str:
    """Every field but ``hash`` as ``key=value``, sorted by key, joined by line feeds."""
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def _fields(data: Mapping[str, str]) -> dict[str, str]:
    """The widget's fields, refusing anything a real answer would not look like."""
    if not isinstance(data, Mapping):
        raise InvalidLogin("The Telegram login is not a set of fields.")
    pairs: Iterable[tuple[Any, Any]]
    multi_items = getattr(data, "multi_items", None)  # query strings keep repeated keys
    pairs = multi_items() if callable(multi_items) else data.items()
    fields: dict[str, str] = {}
    total = 0
    for key, value in pairs:
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidLogin("The Telegram login holds a field that is not text.")
        if key in fields:
            raise InvalidLogin(f"The Telegram login holds the field {key[:32]!r} twice.")
        if not _KEY.fullmatch(key):
            raise InvalidLogin("The Telegram login holds a field Telegram does not send.")
        total += len(key) + len(value) + 2
        if len(fields) >= MAX_FIELDS or len(value) > MAX_FIELD_LENGTH or total > MAX_TOTAL_LENGTH:
            raise InvalidLogin("The Telegram login is larger than Telegram ever sends.")
        if "\n" in value or "\x00" in value:
            raise InvalidLogin("The Telegram login holds a field with a line break.")
        fields[key] = value
    missing = [name for name in REQUIRED if not fields.get(name)]
    if missing:
        raise InvalidLogin(f"The Telegram login is missing {', '.join(missing)}. Log in again.")
    return fields


def verify_login(
    data: Mapping[str, str],
    bot_token: str,
    *,
    max_age: timedelta,
    now: datetime | None = None,
) -> Actor:
    """The Telegram account the Login Widget vouches for, or :class:`InvalidLogin` saying why not.

    ``data`` is exactly what the widget sent (the query of its redirect, or its callback's
    object as text); ``bot_token`` is the token of the bot the widget names. The hash is
    compared in constant time, then ``auth_date`` must be at most ``max_age`` old and not in
    the future (beyond :data:`FUTURE_SKEW`).
    """
    if not isinstance(bot_token, str) or not bot_token.strip():
        raise ValueError("A Telegram bot token is needed to check logins.")
    if max_age <= timedelta(0):
        raise ValueError("max_age must be positive.")
    fields = _fields(data)
    secret_key = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret_key, data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    given = fields["hash"].lower()
    if not _HASH.fullmatch(given) or not hmac.compare_digest(expected, given):
        raise InvalidLogin(
            "This Telegram login is not signed for this portal's bot: it was changed or forged."
        )
    if not _DIGITS.fullmatch(fields["auth_date"]) or not _DIGITS.fullmatch(fields["id"]):
        raise InvalidLogin("The Telegram login has no valid date or account number.")
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone.")
    age = moment.timestamp() - int(fields["auth_date"])
    if -age > FUTURE_SKEW.total_seconds():
        raise InvalidLogin(
            "This Telegram login is dated in the future: check the server's clock, "
            "then log in again."
        )
    if age > max_age.total_seconds():
        minutes = int(age // 60)
        raise InvalidLogin(
            f"This Telegram login is {minutes} minutes old, and logins are good for "
            f"{int(max_age.total_seconds() // 60)} minutes. Log in with Telegram again."
        )
    username = fields.get("username", "")
    if not username:
        raise InvalidLogin(
            "Your Telegram account has no username, so it has no public address to show. "
            "Choose one in Telegram's settings, then log in again."
        )
    try:
        handle = normalize_handle(username)
    except InvalidHandle as error:
        raise InvalidLogin(
            f"Telegram sent a username Portal cannot use: {error.message}"
        ) from error
    photo = fields.get("photo_url", "")
    parts = urlsplit(photo)
    name = " ".join(fields.get(key, "").strip() for key in ("first_name", "last_name"))
    return Actor(
        network=NETWORK,
        id=fields["id"],
        handle=handle,
        display_name=name.strip(),
        url=profile_url(handle),
        avatar_url=photo if parts.scheme == "https" and parts.hostname else None,
    )
