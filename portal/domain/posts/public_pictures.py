"""A post's pictures at an address anyone may fetch for a while, for networks that take a
picture by its address instead of its bytes (Instagram: "We cURL media used in publishing
attempts", https://developers.facebook.com/docs/instagram-platform/content-publishing/).

The address is ``/pictures/<token>``: the token names the picture by the length and the
SHA-256 of its bytes, and the moment it stops working (:data:`LIFETIME` after it was made),
signed with HMAC-SHA256 under a key made from the portal's secret key for this use alone. It
holds nothing of the post or its author, cannot be made for a picture by anyone but the
portal, and works only while the picture's post is out or on its way (not a draft, not
deleted). Every failure answers alike, "not available".

Connectors get the addresses from :attr:`connectors.base.Context.media_url`, which
``portal.deps`` fills with :func:`addresser` on a portal with a public ``https`` address.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Upload
from portal.errors import N_, NotFound
from portal.storage.posts import Post, PostMedia

LIFETIME = 3600
"""Seconds an address works: a network fetches the picture within minutes of being given it
(Instagram while it prepares the post), and a retry later is given a new address."""
PATH = "/pictures"
UNAVAILABLE = N_("This picture is not available.")
SHOWN_STATES = ("published", "scheduled")
"""The states of a post whose pictures are served: out, or on their way out."""
MAX_CANDIDATES = 20
"""Pictures of the same length compared by their bytes at most (almost always one)."""

_SIGNATURE_LENGTH = 22  # 128 bits, base64url
_TOKEN = re.compile(
    r"([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{22})"
)


@functools.cache
def _key(secret: str) -> bytes:
    """This use's own key, made from the portal's secret once."""
    return hmac.new(secret.encode(), b"portal public pictures", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(payload: str, secret: str) -> str:
    return _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())[
        :_SIGNATURE_LENGTH
    ]


def token(data: bytes, secret: str, *, now: float | None = None) -> str:
    """The signed token of the picture whose bytes are ``data``, valid :data:`LIFETIME`."""
    expires = int(now if now is not None else time.time()) + LIFETIME
    payload = f"{len(data)}.{_b64(hashlib.sha256(data).digest())}.{expires}"
    return f"{payload}.{_signature(payload, secret)}"


def read(value: str, secret: str, *, now: float | None = None) -> tuple[int, bytes] | None:
    """The length and SHA-256 a token names, when it is the portal's own and still valid."""
    match = _TOKEN.fullmatch(value) if len(value) < 200 else None
    if match is None:
        return None
    payload = value.rsplit(".", 1)[0]
    if not hmac.compare_digest(match[4], _signature(payload, secret)):
        return None
    if int(match[3]) <= (now if now is not None else time.time()):
        return None
    return int(match[1]), base64.urlsafe_b64decode(match[2] + "=")


def addresser(base_url: str, secret: str) -> Callable[[Upload], Awaitable[str]]:
    """What :attr:`connectors.base.Context.media_url` calls: the public address of a picture
    of a post, good for :data:`LIFETIME`."""

    async def media_url(upload: Upload) -> str:
        return f"{base_url}{PATH}/{token(upload.data, secret)}"

    return media_url


async def picture(session: AsyncSession, value: str, secret: str) -> PostMedia:
    """The picture a token names, while its post is out or on its way; else "not available"."""
    named = read(value, secret)
    if named is None:
        raise NotFound(UNAVAILABLE)
    size, digest = named
    found = await session.scalars(
        select(PostMedia)
        .join(Post, Post.id == PostMedia.post_id)
        .where(PostMedia.size == size, Post.state.in_(SHOWN_STATES))
        .order_by(PostMedia.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    for media in found:
        if hmac.compare_digest(hashlib.sha256(media.data).digest(), digest):
            return media
    raise NotFound(UNAVAILABLE)
