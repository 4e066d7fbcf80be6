"""Messengers the portal only links to: a handle (or phone number) checked against each
network's rules, and a link that opens a chat.

Why each looks like it does (the network's own words, where it publishes them):

- Signal: a username is a nickname of 3 to 32 letters, digits and underscores, not starting
  with a digit, a period and at least two digits (libsignal's ``usernames`` crate,
  https://github.com/signalapp/libsignal). Its share links (``signal.me/#eu/…``) are encrypted,
  so a username has no link; a phone number has ``https://signal.me/#p/<number>``.
- Viber is reached by phone number: ``viber://chat?number=%2B<number>`` opens the chat in the
  app (Viber's deep links, https://developers.viber.com/docs/tools/deep-links/); there is no
  web page.
- Messenger's ``m.me/<username>`` opens a chat (https://www.facebook.com/help/messenger-app/)
  with a Facebook username (see :class:`connectors.facebook.Facebook`).
- LINE IDs: at most 20 lowercase letters, digits, ``.``, ``-`` and ``_``; the add-friend link
  is ``https://line.me/ti/p/~<id>`` (https://help.line.me/).
- Discord's usernames since 2023: 2 to 32 lowercase letters, digits, ``_`` and ``.``, never two
  periods in a row (https://support.discord.com/hc/en-us/articles/12620128861463). Discord has
  no public profile page, nor does WeChat (WeChat IDs: 6 to 20 letters, digits, ``_`` and
  ``-``, starting with a letter).

WhatsApp is :mod:`connectors.whatsapp`. Every phone number, there and here, is read by
:func:`connectors._profile.normalize_phone`.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from connectors._profile import (
    PhoneLink,
    ProfileLink,
    display_phone,
    normalize_phone,
    split_address,
)
from connectors.base import PUBLIC, Context, InvalidHandle, clean, url_quote
from connectors.facebook import Facebook


class Signal(ProfileLink):
    NAME = "signal"
    MESSENGER = True
    LABEL = "Signal"
    HANDLE_LABEL = "Username or phone number"
    HANDLE_EXAMPLE = "ada.42"
    PREFIXES = ("@",)
    HANDLE_PATTERN = r"[a-z_][a-z0-9_]{2,31}\.(?:0[1-9]|[1-9][0-9]{1,8})"
    RULES = (
        "A Signal username is a name of 3 to 32 letters, digits and underscores, not starting "
        "with a digit, then a period and at least two digits, like ada.42."
    )
    HOSTS = ("signal.me",)
    _PHONE_START: ClassVar[re.Pattern[str]] = re.compile(r"(?:tel:)?[+0-9(]")

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=500)
        parts = split_address(text)
        if parts is not None:
            if (parts.hostname or "").removeprefix("www.") not in cls.HOSTS:
                raise InvalidHandle("This is not an address on signal.me.")
            fragment = unquote(parts.fragment)
            if fragment.startswith("p/"):
                return normalize_phone(fragment[2:])
            raise InvalidHandle(
                "A Signal username link is encrypted and does not show the username: type the "
                "username itself, like ada.42."
            )
        digits_only = not re.search("[a-z]", text.lower().removeprefix("tel:"))
        if cls._PHONE_START.match(text) and digits_only:
            return normalize_phone(text)
        return cls.check_handle(cls.strip_prefix(text))

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return display_phone(handle) if handle.startswith("+") else handle

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if handle.startswith("+"):
            return "https://signal.me/#p/" + url_quote(handle)
        return None


class Viber(PhoneLink):
    NAME = "viber"
    MESSENGER = True
    LABEL = "Viber"

    @classmethod
    def handle_from_address(cls, text: str) -> str | None:
        if text.lower().startswith("viber://"):
            numbers = parse_qs(urlsplit(text).query).get("number")
            if not numbers:
                raise InvalidHandle("This Viber link has no phone number in it.")
            return numbers[0].strip()
        return super().handle_from_address(text)

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        return "viber://chat?number=%2B" + url_quote(handle.removeprefix("+"))


class Messenger(ProfileLink):
    NAME = "messenger"
    MESSENGER = True
    LABEL = "Messenger"
    HANDLE_LABEL = "Facebook username"
    HANDLE_EXAMPLE = "ada.lovelace"
    HANDLE_PATTERN = Facebook.HANDLE_PATTERN
    RULES = Facebook.RULES
    HOSTS = ("m.me", "messenger.com")
    PROFILE_PATHS = (r"(?P<handle>[^/]+)", r"t/(?P<handle>[^/]+)")
    RESERVED = frozenset({"login", "messages", "groups"})
    PROFILE_URL = "https://m.me/{handle}"


class Line(ProfileLink):
    NAME = "line"
    MESSENGER = True
    LABEL = "LINE"
    HANDLE_LABEL = "LINE ID"
    HANDLE_EXAMPLE = "ada.lovelace"
    HANDLE_PATTERN = r"[a-z0-9._-]{4,20}"
    RULES = "A LINE ID has 4 to 20 letters, digits, periods, hyphens and underscores."
    HOSTS = ("line.me",)
    PROFILE_PATHS = (r"(?:R/)?ti/p/~(?P<handle>[^/]+)",)
    PROFILE_URL = "https://line.me/ti/p/~{handle}"


class WeChat(ProfileLink):
    NAME = "wechat"
    MESSENGER = True
    LABEL = "WeChat"
    HANDLE_LABEL = "WeChat ID"
    HANDLE_EXAMPLE = "ada_lovelace"
    CASE_INSENSITIVE = False
    HANDLE_PATTERN = r"[a-zA-Z][a-zA-Z0-9_-]{5,19}"
    RULES = (
        "A WeChat ID has 6 to 20 letters, digits, underscores and hyphens, and starts with "
        "a letter."
    )


class Discord(ProfileLink):
    NAME = "discord"
    MESSENGER = True
    LABEL = "Discord"
    HANDLE_EXAMPLE = "ada.lovelace"
    PREFIXES = ("@",)
    HANDLE_PATTERN = r"(?!.*\.\.)[a-z0-9_.]{2,32}"
    RULES = (
        "A Discord username has 2 to 32 letters, digits, underscores and periods, never two "
        "periods in a row."
    )

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        if re.fullmatch(r".+#[0-9]{4}", candidate):
            raise InvalidHandle(
                "Discord usernames no longer end in #and four digits: give your new username."
            )
        return super().check_handle(candidate)
