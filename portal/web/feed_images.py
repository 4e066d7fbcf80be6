"""The pictures of feed entries, shown through Portal.

The pages may load pictures from Portal alone (their content security policy says
``img-src 'self'``): a picture fetched from another server by the reader's browser would tell
that server who reads the entry, when and from where. So when an entry is shown, each of its
pictures' addresses is replaced by one of Portal's own (:func:`pictures`),
``/feed/images/<signature>/<address>``: the address, base64url, signed with a key made from
the portal's secret key, so that Portal fetches only pictures it has shown itself and cannot
be used to fetch anything else.

A picture is fetched as a feed is (:func:`portal.domain.feeds.fetch.fetch`: through the address
guard, every redirect checked, with size and time limits), for a signed-in person only and
counted by the limiter, and is served only when its bytes are those of a PNG, JPEG, GIF, WebP
or AVIF picture (never SVG, which may hold scripts), under the type its bytes say, with
headers that forbid anything active and let the browser keep it. Any failure answers alike:
404, "The picture could not be fetched."
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import html
import re

from fastapi import APIRouter, Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

from portal import responses
from portal.deps import LimiterDep, Services
from portal.domain.feeds.fetch import FetchError, fetch
from portal.errors import N_, NotFound
from portal.web.deps import CurrentUser

router = APIRouter(prefix="/feed/images", include_in_schema=False)

MAX_BYTES = 10 * 1024 * 1024
"""The largest picture fetched: far above a picture in a post, far below harm."""
DEADLINE = 15.0
ACCEPT = "image/avif, image/webp, image/png, image/jpeg, image/gif;q=0.9, */*;q=0.1"
KEPT_FOR = 7 * 24 * 3600
"""Seconds a browser keeps a picture: its address names the picture's own address."""
UNAVAILABLE = N_("The picture could not be fetched.")
_IMG_SRC = re.compile(r'(<img\b[^>]*?\ssrc=")([^"]*)(")')
_SIGNATURE_LENGTH = 22  # 128 bits, base64url


@functools.cache
def _key(secret: str) -> bytes:
    """This use's own key, made from the portal's secret once."""
    return hmac.new(secret.encode(), b"portal feed images", hashlib.sha256).digest()


def _signature(url: str, secret: str) -> str:
    digest = hmac.new(_key(secret), url.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_SIGNATURE_LENGTH]


def address(url: str, secret: str) -> str:
    """Portal's own address of the picture at ``url``."""
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return f"{router.prefix}/{_signature(url, secret)}/{encoded}"


def _unsigned(signature: str, encoded: str, secret: str) -> str | None:
    """The picture's address in ``encoded``, when ``signature`` is Portal's own for it."""
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not hmac.compare_digest(signature, _signature(url, secret)):
        return None
    return url


def through_portal(fragment: str, secret: str) -> Markup:
    """The sanitised HTML ``fragment`` of an entry (:mod:`portal.domain.feeds.sanitize`, which
    writes every attribute between double quotes), its pictures fetched through Portal; a
    picture written in the page itself (``data:``) stays."""

    def replace(found: re.Match[str]) -> str:
        url = html.unescape(found.group(2))
        if not url.startswith(("http://", "https://")):
            return found.group(0)
        return found.group(1) + address(url, secret) + found.group(3)

    # The fragment was made safe when stored; what is put in is Portal's own address.
    return Markup(_IMG_SRC.sub(replace, fragment))  # noqa: S704


@pass_context
def pictures(context: Context, fragment: str) -> Markup:
    """The template filter of :func:`through_portal`, with the application's secret key."""
    request: Request = context["request"]
    return through_portal(fragment, request.app.state.settings.secret_key)


def kind(body: bytes) -> str | None:
    """The type of picture ``body`` holds, by its first bytes; ``None`` when none we serve."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    if body[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return None


@router.get("/{signature}/{encoded}")
async def picture(
    request: Request,
    signature: str,
    encoded: str,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
) -> Response:
    """A picture of an entry shown to ``user``, fetched through the address guard."""
    url = _unsigned(signature, encoded, request.app.state.settings.secret_key)
    if url is None:
        raise NotFound(UNAVAILABLE)
    await limiter.hit("feed_image", str(user.id))
    try:
        async with services.http() as http:
            fetched = await fetch(http, url, limit=MAX_BYTES, deadline=DEADLINE, accept=ACCEPT)
    except FetchError:
        raise NotFound(UNAVAILABLE) from None
    media_type = kind(fetched.body)
    if media_type is None:
        raise NotFound(UNAVAILABLE)
    return responses.picture(fetched.body, media_type, max_age=KEPT_FOR, immutable=True)
