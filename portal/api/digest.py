"""The morning digest: read it, and choose the hour it is emailed each day."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from portal.api.deps import ApiUser
from portal.api.schemas import errors
from portal.deps import DB
from portal.domain.feeds import digest

router = APIRouter(prefix="/api/v1", tags=["feed"])


class DigestEntryOut(BaseModel):
    id: int
    title: str
    link: str | None
    network: str
    published_at: datetime


class DigestGroupOut(BaseModel):
    title: str = Field(description="The person's name as you may see it, or the feed's title.")
    number: str | None = Field(description="The person's portal number; null for a feed.")
    networks: list[str]
    new: int = Field(description="Entries new in this group since then.")
    more: int = Field(description="New entries beyond those listed.")
    entries: list[DigestEntryOut]


class DigestOut(BaseModel):
    since: datetime
    total_new: int
    hour: int | None = Field(description="The hour (UTC) it is emailed each day; null: never.")
    groups: list[DigestGroupOut]


class DigestHourIn(BaseModel):
    hour: int | None = Field(ge=0, le=23, description="0 to 23 (UTC); null stops the email.")

    @field_validator("hour", mode="before")
    @classmethod
    def _a_json_number(cls, value: object) -> object:
        """A JSON number or null, as the schema says: not ``true`` (which Python would read as
        1) nor ``"7"``."""
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        raise ValueError("an hour is a whole number from 0 to 23")


@router.get("/feed/digest", response_model=DigestOut, responses=errors(401, 403))
async def get_digest(db: DB, user: ApiUser) -> DigestOut:
    """What came since you last opened your feed, grouped by person and by feed, the ones you
    read most first. Reading it here does not count as opening the feed."""
    found = await digest.digest(db, user)
    return DigestOut(
        since=found.since,
        total_new=found.total_new,
        hour=user.digest_hour,
        groups=[
            DigestGroupOut(
                title=group.title,
                number=group.number,
                networks=group.networks,
                new=group.new,
                more=group.more,
                entries=[
                    DigestEntryOut(
                        id=entry.id,
                        title=entry.title,
                        link=entry.link,
                        network=entry.network,
                        published_at=entry.sort_at,
                    )
                    for entry in group.entries
                ],
            )
            for group in found.groups
        ],
    )


@router.put("/me/digest", response_model=DigestHourIn, responses=errors(401, 403, 422))
async def set_digest_hour(body: DigestHourIn, db: DB, user: ApiUser) -> DigestHourIn:
    """Have the digest emailed each day at an hour (UTC), or stop it."""
    digest.set_hour(user, body.hour)
    return DigestHourIn(hour=user.digest_hour)
