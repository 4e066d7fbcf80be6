"""My tags on my contacts: a few words of my own, never shown to anybody else."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import relations
from portal.domain.contacts.requests import NOT_A_CONTACT
from portal.domain.text import reject_invisible
from portal.errors import InvalidInput, NotFound
from portal.storage.models import Contact, ContactTag, User

MAX_TAG = 40
MAX_TAGS = 20
"""Tags on one contact."""


def clean_tag(text: str) -> str:
    """A tag: one line of 1 to 40 characters."""
    value = unicodedata.normalize("NFC", text)
    reject_invisible(value, "The tag", "tag", newlines=False)
    value = " ".join(value.split())
    if not value:
        raise InvalidInput("Enter a tag.", field="tag")
    if len(value) > MAX_TAG:
        raise InvalidInput("A tag has at most %(max)d characters.", field="tag", max=MAX_TAG)
    return value


async def _my_contact(session: AsyncSession, owner: User, other: User) -> Contact:
    row = await relations.contact_row(session, owner.id, other.id)
    if row is None:
        raise NotFound(NOT_A_CONTACT)
    return row


async def _tags_of(session: AsyncSession, contact_id: int) -> list[str]:
    return list(
        await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact_id))
    )


async def add_tag(session: AsyncSession, owner: User, other: User, tag: str) -> None:
    """Put a tag of mine on a contact (one already there, in any case, is left as it is)."""
    value = clean_tag(tag)
    row = await _my_contact(session, owner, other)
    present = await _tags_of(session, row.id)
    if any(t.casefold() == value.casefold() for t in present):
        return
    if len(present) >= MAX_TAGS:
        raise InvalidInput("A contact has at most %(max)d tags.", field="tag", max=MAX_TAGS)
    session.add(ContactTag(contact_id=row.id, tag=value))
    await session.flush()


async def remove_tag(session: AsyncSession, owner: User, other: User, tag: str) -> None:
    row = await _my_contact(session, owner, other)
    result = await session.execute(
        delete(ContactTag).where(ContactTag.contact_id == row.id, ContactTag.tag == tag[:100])
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("This contact has no such tag.")
    await session.flush()


async def set_tags(session: AsyncSession, owner: User, other: User, tags: Sequence[str]) -> None:
    """Replace my tags on a contact; all are checked before any is written."""
    row = await _my_contact(session, owner, other)
    values: list[str] = []
    for tag in tags:
        value = clean_tag(tag)
        if not any(v.casefold() == value.casefold() for v in values):
            values.append(value)
    if len(values) > MAX_TAGS:
        raise InvalidInput("A contact has at most %(max)d tags.", field="tags", max=MAX_TAGS)
    await session.execute(delete(ContactTag).where(ContactTag.contact_id == row.id))
    session.add_all(ContactTag(contact_id=row.id, tag=value) for value in values)
    await session.flush()
