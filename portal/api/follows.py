"""Following people by number: their public feeds come into mine.

Every route with a number counts as a lookup (rate-limited as ``GET /numbers/{number}`` is, a
miss costing more). Following a number nobody has, a hidden one and one whose owner blocked me
answer the same 404; unfollowing one I do not follow answers 404 whoever has it.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from portal.api.deps import ApiUser
from portal.api.schemas import CardOut, errors
from portal.deps import DB, LimiterDep, client_address
from portal.domain import lookup
from portal.domain.feeds import follows

router = APIRouter(prefix="/api/v1", tags=["follows"])

NumberPath = Path(
    max_length=100,
    description="The followed person's portal number; spaces, dashes, dots and '#' are ignored.",
)


class FollowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(
        max_length=100,
        examples=["48291375"],
        description="Spaces, dashes, dots and '#' are ignored.",
    )


class FollowOut(BaseModel):
    person: CardOut = Field(description="What I may see of them now: the accounts I read.")
    since: datetime

    @classmethod
    def of(cls, entry: follows.Following) -> FollowOut:
        return cls(person=CardOut.of(entry.card), since=entry.since)


@router.get("/follows", response_model=list[FollowOut], responses=errors(401, 403))
async def list_follows(db: DB, user: ApiUser) -> list[FollowOut]:
    """The people I follow, the latest first, each as they show themselves to me."""
    return [FollowOut.of(entry) for entry in await follows.following(db, user)]


@router.post(
    "/follows",
    status_code=status.HTTP_201_CREATED,
    response_model=FollowOut,
    responses={
        200: {"model": FollowOut, "description": "I already followed them: nothing changed."},
        **errors(401, 403, 404, 429),
    },
)
async def follow(
    body: FollowIn, request: Request, response: Response, db: DB, user: ApiUser, limiter: LimiterDep
) -> FollowOut:
    """Follow someone by number: the public feeds of the accounts they show me come into my
    feed, and follow their changes at once. My own number is refused (422)."""
    followed = await lookup.follow(db, limiter, user, body.number, client=client_address(request))
    if not followed.created:
        response.status_code = status.HTTP_200_OK
    return FollowOut.of(followed.following)


@router.delete(
    "/follows/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
)
async def unfollow(
    request: Request, db: DB, user: ApiUser, limiter: LimiterDep, number: str = NumberPath
) -> Response:
    """Stop following this number."""
    await lookup.unfollow(db, limiter, user, number, client=client_address(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
