"""My profile: display name, bio and avatar."""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import privacy
from portal.domain.text import clean_bio, clean_name
from portal.errors import InvalidInput, NotFound, PayloadTooLarge
from portal.storage.models import Avatar, User, utcnow

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
ACCEPTED_TYPES = "image/jpeg,image/png,image/gif,image/webp"
MAX_PIXELS = 40_000_000  # a 6,000 × 6,000 picture; larger ones are refused, not decoded
_TOO_MANY_PIXELS = "This picture has too many pixels; use one under 6000 × 6000."


async def update_profile(
    session: AsyncSession, user: User, *, display_name: str | None, bio: str | None
) -> User:
    if display_name is not None:
        user.display_name = clean_name(display_name)
    if bio is not None:
        user.bio = clean_bio(bio)
    await session.flush()
    return user


async def set_privacy(
    session: AsyncSession,
    user: User,
    *,
    audiences: dict[str, str] | None = None,
    find_by: dict[str, bool] | None = None,
) -> User:
    """Who sees each profile field (``{"name": "members"}``) and by which ways the person can
    be found (``{"number": True, "phone": False, "name": True}``); the rest stays."""
    checked = {
        name: privacy.check_audience(value, field=f"{name}_audience")
        for name, value in (audiences or {}).items()
        if name in privacy.FIELDS
    }
    unknown = set(audiences or {}) - set(privacy.FIELDS) | set(find_by or {}) - set(FIND_BY)
    if unknown:
        raise InvalidInput(f"There is no setting called {sorted(unknown)[0]!r}.")
    for name, audience in checked.items():
        setattr(user, f"{name}_audience", audience)
    for way, on in (find_by or {}).items():
        setattr(user, f"find_by_{way}", bool(on))
    await session.flush()
    return user


FIND_BY = ("number", "phone", "name")
"""The ways to find a person, each a switch of its own (``find_by_<way>`` on User)."""


def reencode_avatar(data: bytes, *, max_bytes: int, size: int) -> bytes:
    """Decode an uploaded picture and re-encode it as a square WebP of ``size`` pixels.

    Re-encoding drops metadata (location in EXIF) and anything hidden in the file; the
    pixel limit keeps a "decompression bomb" from eating the server's memory.
    """
    if not data:
        raise InvalidInput("Choose a picture to upload.", field="avatar")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"A picture may be at most {max_bytes // (1024 * 1024)} MB.", field="avatar"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput(_TOO_MANY_PIXELS, field="avatar")
                image.seek(0)
                image.load()
                picture = ImageOps.exif_transpose(image)
                picture = picture.convert("RGBA" if _has_alpha(picture) else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses the largest pictures itself, before our own pixel limit is checked.
        raise InvalidInput(_TOO_MANY_PIXELS, field="avatar") from None
    except UnidentifiedImageError:
        raise InvalidInput(
            "This file is not a picture we can read. Use a JPEG, PNG, GIF or WebP image.",
            field="avatar",
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput(
            "This picture is damaged or cut short; try another file.", field="avatar"
        ) from None
    square = ImageOps.fit(picture, (size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85, method=4)
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info


async def set_avatar(
    session: AsyncSession, user: User, data: bytes, *, max_bytes: int, size: int
) -> Avatar:
    encoded = reencode_avatar(data, max_bytes=max_bytes, size=size)
    etag = hashlib.sha256(encoded).hexdigest()[:32]
    avatar = await session.get(Avatar, user.id)
    if avatar is None:
        avatar = Avatar(user_id=user.id, content_type="image/webp", data=encoded, etag=etag)
        session.add(avatar)
    else:
        avatar.data, avatar.etag, avatar.updated_at = encoded, etag, utcnow()
    user.avatar_etag = etag
    await session.flush()
    return avatar


async def remove_avatar(session: AsyncSession, user: User) -> None:
    avatar = await session.get(Avatar, user.id)
    if avatar is not None:
        await session.delete(avatar)
    user.avatar_etag = None
    await session.flush()


async def avatar_of(session: AsyncSession, card: privacy.Card) -> Avatar:
    """The picture on a card, when the card shows one (see :mod:`portal.domain.privacy`)."""
    avatar = await session.get(Avatar, card.user_id) if card.avatar_etag else None
    if avatar is None:
        raise NotFound("This number shows no picture.")
    return avatar
