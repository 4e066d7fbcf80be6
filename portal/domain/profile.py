"""My profile: display name, bio and avatar."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import images, privacy
from portal.domain.text import clean_bio, clean_name
from portal.errors import InvalidInput, NotFound, PayloadTooLarge
from portal.storage.models import Avatar, User, utcnow

ACCEPTED_TYPES = "image/jpeg,image/png,image/gif,image/webp"


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
        raise InvalidInput("There is no setting called %(name)r.", name=sorted(unknown)[0])
    for name, audience in checked.items():
        setattr(user, f"{name}_audience", audience)
    for way, on in (find_by or {}).items():
        setattr(user, f"find_by_{way}", bool(on))
    await session.flush()
    return user


FIND_BY = ("number", "phone", "name")
"""The ways to find a person, each a switch of its own (``find_by_<way>`` on User)."""


def _check_upload(data: bytes, *, max_bytes: int) -> None:
    if not data:
        raise InvalidInput("Choose a picture to upload.", field="avatar")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            "A picture may be at most %(max)d MB.", field="avatar", max=max_bytes // (1024 * 1024)
        )


async def set_avatar(
    session: AsyncSession,
    user: User,
    data: bytes,
    *,
    max_bytes: int,
    size: int,
    workers: images.ImageWorkers,
) -> Avatar:
    """Replace the picture with ``data`` re-encoded as a square WebP of ``size`` pixels.

    The picture is decoded by ``workers``, away from the event loop (see
    :mod:`portal.domain.images`). Unlike other domain functions this one commits, once, before
    decoding: what the request wrote so far (when its token was last used) is kept, and no
    transaction stays open while the picture waits for a turn and decodes. An open one would
    hold a database connection for seconds, and on SQLite it would be refused its writes
    ("database is locked") whenever another request commits meanwhile.
    """
    _check_upload(data, max_bytes=max_bytes)
    await session.commit()
    encoded = await workers.square_webp(data, size)
    etag = hashlib.sha256(encoded).hexdigest()[:32]
    # The new transaction writes first, then reads: on SQLite a transaction that read first
    # is refused its writes when another upload commits in between.
    user.avatar_etag = etag
    await session.flush()
    avatar = await session.get(Avatar, user.id)
    if avatar is None:
        avatar = Avatar(user_id=user.id, content_type="image/webp", data=encoded, etag=etag)
        session.add(avatar)
    else:
        avatar.data, avatar.etag, avatar.updated_at = encoded, etag, utcnow()
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
