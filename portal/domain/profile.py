"""My profile: display name, bio, avatar and language."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from portal import i18n
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


async def set_language(session: AsyncSession, user: User, language: str | None) -> User:
    """The language of my pages, emails and notifications; None or "" follows my browser's."""
    if language and i18n.chosen(language) is None:
        raise InvalidInput("This language is not available.", field="language")
    user.language = language or None
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
    unknown = set(audiences or {}) - set(privacy.FIELDS)
    unknown |= set(find_by or {}) - set(privacy.FIND_WAYS)
    if unknown:
        raise InvalidInput("There is no setting called %(name)r.", name=sorted(unknown)[0])
    for name, audience in checked.items():
        setattr(user, f"{name}_audience", audience)
    for way, on in (find_by or {}).items():
        setattr(user, f"find_by_{way}", bool(on))
    await session.flush()
    return user


def _check_upload(data: bytes, *, max_bytes: int) -> None:
    if not data:
        raise InvalidInput("Choose a picture to upload.", field="avatar")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            "A picture may be at most %(max)d MB.", field="avatar", max=max_bytes // (1024 * 1024)
        )


async def avatar_picture(
    data: bytes, *, max_bytes: int, size: int, workers: images.ImageWorkers
) -> bytes:
    """``data`` checked and re-encoded as a square WebP of ``size`` pixels, for :func:`set_avatar`.

    The picture is decoded by ``workers``, away from the event loop (see
    :mod:`portal.domain.images`), and may wait seconds for a turn. This touches no database,
    so that the caller holds no transaction meanwhile: an open one would hold a database
    connection all that time, and on SQLite it would be refused its writes ("database is
    locked") whenever another request commits meanwhile.
    """
    _check_upload(data, max_bytes=max_bytes)
    return await workers.square_webp(data, size)


async def set_avatar(session: AsyncSession, user: User, picture: bytes) -> Avatar:
    """Make ``picture``, made by :func:`avatar_picture`, the user's."""
    etag = hashlib.sha256(picture).hexdigest()[:32]
    # Write first, then read: on SQLite a transaction that read first is refused its writes
    # when another upload commits in between.
    user.avatar_etag = etag
    await session.flush()
    avatar = await session.get(Avatar, user.id)
    if avatar is None:
        avatar = Avatar(user_id=user.id, content_type="image/webp", data=picture, etag=etag)
        session.add(avatar)
    else:
        avatar.data, avatar.etag, avatar.updated_at = picture, etag, utcnow()
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
