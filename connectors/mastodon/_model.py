"""Mastodon's handles, accounts and statuses as Portal's types: pure functions, no requests.

- A handle is ``user@server``: the name has 1 to 30 letters, digits or underscores
  (https://docs.joinmastodon.org/entities/Account/#username), and a profile address is
  ``https://server/@user`` or ``https://server/users/user``.
- An Account (https://docs.joinmastodon.org/entities/Account/) becomes an :class:`Actor`, a
  Status (https://docs.joinmastodon.org/entities/Status/) a :class:`Post`; a local ``acct``
  has no server part, so the instance that answered is added.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from connectors import base
from connectors.base import Actor, InvalidHandle, Media, PermanentError, Post
from connectors.mastodon._api import UNEXPECTED, text_of
from connectors.mastodon._text import CONTROL, html_to_text

NETWORK = "mastodon"
USERNAME = re.compile(r"[A-Za-z0-9_]{1,30}", re.ASCII)


# -- handles ---------------------------------------------------------------------------------


def server_name(raw: str, *, allow_loopback: bool = False) -> str:
    """A server as Portal keeps it: a host name, or ``localhost:port`` in development
    (``allow_loopback``)."""
    if not isinstance(raw, str):
        raise InvalidHandle("Give the server's name, like mastodon.social.")
    if "[" in raw:
        raise InvalidHandle("Give the server's name, not its IP address.")
    return base.normalize_server(raw, allow_loopback=allow_loopback)


def server_of(raw: str, *, allow_loopback: bool = False) -> str:
    """The server a person names to link an account: ``server`` (``host:port`` in
    development), ``@user@server``, ``user@server`` or a profile address ``https://server/@user``.

    Only the server is taken: servers of the Mastodon API allow other names than Mastodon's
    (longer, with dots or dashes), and the account is whoever signs in there.
    """
    text = base.clean(raw, max_length=300)
    if "/" in text.partition("://")[2 if "://" in text else 0].strip("/"):
        _, server = _handle_in_url(text)
    elif "@" in text:
        account = text.removeprefix("acct:").removeprefix("@")
        user, _, server = account.partition("@")
        if not user or "@" in server:
            raise InvalidHandle(
                "Give your server, like mastodon.social, or your handle, like @ada@mastodon.social."
            )
    else:
        server = text
    return server_name(server, allow_loopback=allow_loopback)


def normalize_handle(raw: str, *, allow_loopback: bool = False) -> str:
    """``user@server``, lowercased, from a handle or a profile address, or
    :class:`InvalidHandle` saying what is wrong."""
    text = base.clean(raw, max_length=300)
    if "/" in text:
        user, domain = _handle_in_url(text)
    else:
        text = text.removeprefix("acct:").removeprefix("@")
        if text.count("@") != 1:
            raise InvalidHandle(
                "A Mastodon handle has a name and a server, like @ada@mastodon.social."
            )
        user, domain = text.split("@")
    if not USERNAME.fullmatch(user):
        raise InvalidHandle("A Mastodon name has 1 to 30 letters (a–z), digits or underscores.")
    return f"{user.lower()}@{server_name(domain, allow_loopback=allow_loopback)}"


def _handle_in_url(text: str) -> tuple[str, str]:
    """``(user, server)`` of a profile: ``/@ada``, ``/@ada@other.server`` or ``/users/ada``."""
    candidate = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as error:
        raise InvalidHandle("This address cannot be read.") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidHandle("Give a web address that starts with https://.")
    if parts.username is not None or parts.password is not None:
        raise InvalidHandle("This address hides another one in it; give the profile's address.")
    host = parts.hostname or ""
    server = f"{host}:{port}" if port is not None else host
    path = parts.path.strip("/")
    if path.startswith("users/") and "/" not in path[6:]:
        return path[6:], server
    if not path.startswith("@") or "/" in path:
        raise InvalidHandle(
            "Give the profile's address, like https://mastodon.social/@ada, or the handle."
        )
    user, _, other = path[1:].partition("@")
    return user, other or server


# -- JSON ↔ Portal's types -------------------------------------------------------------------


def web_url(value: Any) -> str | None:
    """``value`` when it is an http(s) address with a host, else ``None``."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _timestamp(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise PermanentError(f"The server {UNEXPECTED}: a post has no valid date.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _handle_of(acct: str, instance: str, allow_loopback: bool) -> str:
    user, _, domain = acct.lstrip("@").partition("@")
    raw = f"{user}@{domain or instance}"
    try:
        return normalize_handle(raw, allow_loopback=allow_loopback)
    except InvalidHandle:
        return raw.lower()


_PLACEHOLDER_AVATARS = re.compile(
    r"(?:/avatars/original/missing\.png"  # Mastodon (Paperclip's default_url)
    r"|/images/avi\.png"  # Pleroma, Akkoma (lib/pleroma/user.ex, avatar_url/2)
    r"|/assets/default_avatars/GoToSocial_icon[1-6]\.(?:webp|png|svg)"  # GoToSocial (web/assets)
    r"|/static/img/unknown-icon-128\.png"  # Takahē (users/models/identity.py)
    r"|/api/v1/accounts/identicon"  # Mitra
    r"|/identicon/[^/]+)$",  # Misskey, Sharkey, Iceshrimp (getIdenticonUrl)
    re.IGNORECASE,
)
"""What servers show for an account with no picture, by the end of the address's path: the
list of the pl-fe client (src/utils/accounts.ts, ``isDefaultAvatar``) and the servers' code."""


def is_placeholder_avatar(url: str) -> bool:
    """Whether ``url`` is a server's stand-in for "no picture" rather than one the person chose."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return _PLACEHOLDER_AVATARS.search(path) is not None


def actor_from_json(data: Any, instance: str, *, allow_loopback: bool = False) -> Actor:
    """An Account entity as an :class:`Actor`; a local ``acct`` gets ``instance`` added.

    The bio is the plain text the person wrote (``source.note`` of a CredentialAccount) or
    else a plain-text rendering of the ``note`` HTML.
    """
    if not isinstance(data, Mapping):
        raise PermanentError(f"The server {UNEXPECTED}: no account.")
    account_id = text_of(data.get("id"))
    acct = text_of(data.get("acct")) or text_of(data.get("username"))
    if not account_id or not acct:
        raise PermanentError(f"The server {UNEXPECTED}: the account has no id or name.")
    source = data.get("source")
    plain = source.get("note") if isinstance(source, Mapping) else None
    if isinstance(plain, str):
        bio = CONTROL.sub("", plain).strip()
    else:
        bio = html_to_text(text_of(data.get("note")))
    avatar = web_url(data.get("avatar"))
    if avatar and is_placeholder_avatar(avatar):
        avatar = None
    return Actor(
        network=NETWORK,
        id=account_id,
        handle=_handle_of(acct, instance, allow_loopback),
        display_name=CONTROL.sub("", text_of(data.get("display_name"))).strip(),
        url=web_url(data.get("url")),
        avatar_url=avatar,
        bio=bio,
    )


def media_from_json(data: Any) -> Media | None:
    """A MediaAttachment as :class:`Media`, or ``None`` while it has no address yet."""
    if not isinstance(data, Mapping):
        return None
    url = web_url(data.get("url")) or web_url(data.get("remote_url"))
    url = url or web_url(data.get("preview_url"))
    if url is None:
        return None
    mime_type = mimetypes.guess_type(urlsplit(url).path)[0] or ""
    return Media(url=url, mime_type=mime_type, description=text_of(data.get("description")))


def post_from_json(data: Any, instance: str, *, allow_loopback: bool = False) -> Post:
    """A Status as a :class:`Post`: the HTML as given, and a plain-text rendering of it.

    :class:`Post` has no field for a content warning, so the plain text starts with it.
    """
    if not isinstance(data, Mapping) or not text_of(data.get("id")):
        raise PermanentError(f"The server {UNEXPECTED}: a post has no id.")
    html = text_of(data.get("content"))
    text = html_to_text(html)
    warning = CONTROL.sub("", text_of(data.get("spoiler_text"))).strip()
    if warning:
        text = f"CW: {warning}\n\n{text}".strip()
    attachments = data.get("media_attachments")
    media = [media_from_json(item) for item in attachments] if isinstance(attachments, list) else []
    return Post(
        network=NETWORK,
        id=text_of(data["id"]),
        author=actor_from_json(data.get("account"), instance, allow_loopback=allow_loopback),
        published=_timestamp(data.get("created_at")),
        text=text,
        html=html,
        url=web_url(data.get("url")) or web_url(data.get("uri")),
        media=tuple(item for item in media if item is not None),
        reply_to=text_of(data.get("in_reply_to_id")) or None,
    )
