"""What a number shows to whoever looks it up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import number as numbers
from portal.errors import NotFound
from portal.storage.models import User

NO_SUCH_NUMBER = "No one has this portal number."


@dataclass(frozen=True)
class Card:
    number: str
    display_number: str
    display_name: str
    bio: str
    avatar_etag: str | None


async def look_up(session: AsyncSession, text: str) -> Card:
    """The card behind a typed number; a typo is an error, never someone else's card."""
    number = numbers.parse(text)
    user = await session.scalar(select(User).where(User.number == number))
    if user is None:
        raise NotFound(NO_SUCH_NUMBER)
    return Card(
        number=user.number,
        display_number=numbers.display(user.number),
        display_name=user.display_name,
        bio=user.bio,
        avatar_etag=user.avatar_etag,
    )
