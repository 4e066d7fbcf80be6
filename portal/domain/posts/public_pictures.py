"""A post's pictures at an address anyone may fetch for a while, for networks that take a
picture by its address instead of its bytes (Instagram: "We cURL media used in publishing
attempts", https://developers.facebook.com/docs/instagram-platform/content-publishing/).

The address is ``/pictures/<token>``: the token holds the picture's id and the moment it stops
working (:data:`LIFETIME` after it was made), sealed with AES-256-GCM under a key made from the
portal's secret key for this use alone. Sealed rather than only signed, so the token shows
nothing of the picture, its post or its author, not even the id the author's own pages use;
and, as with a signature, a token altered in any way, or made without the portal's key, opens
nothing. The server finds the picture by its id, one look-up by primary key, and serves it only
while its post is out or on its way (not a draft, not deleted). Every failure answers alike,
"not available".

A message's picture has such an address too, for the messengers that take no picture in a
direct message (XMPP, Bluesky chat): its address follows the text, and works
:data:`MESSAGE_LIFETIME`, as long as a recipient may take to read it, for as long as the
message is kept.

Connectors get the addresses from :attr:`connectors.base.Context.media_url`, which
``portal.deps`` fills with :func:`addresser` on a portal with a public ``https`` address; the
picture is named by :attr:`connectors.base.Upload.id`, which the delivery sets.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import struct
import time
from collections.abc import Awaitable, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Upload
from portal.errors import N_, NotFound
from portal.storage.posts import Post, PostMedia

LIFETIME = 3600
"""Seconds an address works: a network fetches the picture within minutes of being given it
(Instagram while it prepares the post), and a retry later is given a new address."""
MESSAGE_LIFETIME = 30 * 86400
"""Seconds the address of a message's picture works: a person reads a message in their own
time, days later perhaps, not a network within minutes."""
PATH = "/pictures"
UNAVAILABLE = N_("This picture is not available.")
SHOWN_STATES = ("published", "scheduled")
"""The states of a post whose pictures are served: out, or on their way out."""

_NONCE = 12
_EXPIRES = struct.Struct(">Q")
_TAG = 16
_MAX_ID = 24  # PostMedia.id
_TOKEN = re.compile(r"[A-Za-z0-9_-]{50,80}")
"""A sealed token in base64url: a nonce, the expiry, an id of 1 to 24 characters, the tag."""


@functools.cache
def _sealer(secret: str) -> AESGCM:
    """This use's own key, made from the portal's secret once."""
    return AESGCM(hmac.new(secret.encode(), b"portal public pictures", hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token(
    media_id: str,
    secret: str,
    *,
    now: float | None = None,
    lifetime: int = LIFETIME,
    stable: bool = False,
) -> str:
    """The sealed token of the picture whose id is ``media_id``, valid ``lifetime`` seconds.
    ``stable``: the same token for the same picture and moment, its nonce made from them (the
    same sealed bytes, never one nonce for two), so that every try of a message writes the
    same address."""
    expires = int(now if now is not None else time.time()) + lifetime
    opened = _EXPIRES.pack(expires) + media_id.encode()
    nonce = (
        hmac.new(secret.encode(), b"picture nonce " + opened, hashlib.sha256).digest()[:_NONCE]
        if stable
        else os.urandom(_NONCE)
    )
    return _b64(nonce + _sealer(secret).encrypt(nonce, opened, None))


def read(value: str, secret: str, *, now: float | None = None) -> str | None:
    """The id of the picture a token names, when it is the portal's own and still valid."""
    if _TOKEN.fullmatch(value) is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    if _b64(raw) != value:  # the same bytes written otherwise (the last character's spare bits)
        return None
    if not 0 < len(raw) - _NONCE - _EXPIRES.size - _TAG <= _MAX_ID:
        return None
    try:
        opened = _sealer(secret).decrypt(raw[:_NONCE], raw[_NONCE:], None)
    except InvalidTag:
        return None
    (expires,) = _EXPIRES.unpack_from(opened)
    if expires <= (now if now is not None else time.time()):
        return None
    return opened[_EXPIRES.size :].decode()


def addresser(base_url: str, secret: str) -> Callable[[Upload], Awaitable[str]]:
    """What :attr:`connectors.base.Context.media_url` calls: the public address of a picture
    of a post, good for :data:`LIFETIME`."""

    async def media_url(upload: Upload) -> str:
        if not upload.id:
            raise ValueError("only a picture the portal keeps has a public address")
        return f"{base_url}{PATH}/{token(upload.id, secret)}"

    return media_url


def message_address(base_url: str, media_id: str, secret: str, written: float) -> str:
    """The address of a message's picture, for the recipient to open: for
    :data:`MESSAGE_LIFETIME` after the message was ``written``, the same on every try."""
    found = token(media_id, secret, now=written, lifetime=MESSAGE_LIFETIME, stable=True)
    return f"{base_url}{PATH}/{found}"


async def picture(session: AsyncSession, value: str, secret: str) -> PostMedia:
    """The picture a token names, while its post is out or on its way, or while its message
    is kept; else "not available"."""
    media_id = read(value, secret)
    if media_id is None:
        raise NotFound(UNAVAILABLE)
    media = await session.scalar(
        select(PostMedia)
        .outerjoin(Post, Post.id == PostMedia.post_id)
        .where(
            PostMedia.id == media_id,
            or_(Post.state.in_(SHOWN_STATES), PostMedia.message_id.is_not(None)),
        )
    )
    if media is None:
        raise NotFound(UNAVAILABLE)
    return media
