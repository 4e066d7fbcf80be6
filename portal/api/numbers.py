"""Looking a number up."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from portal.api.deps import OptionalApiUser
from portal.api.schemas import CardOut, errors
from portal.deps import DB, LimiterDep, client_address
from portal.domain import lookup

router = APIRouter(prefix="/api/v1", tags=["numbers"])


@router.get("/numbers/{number}", response_model=CardOut, responses=errors(404, 429))
async def get_number(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    number: str = Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored."),
) -> CardOut:
    """Look a portal number up: what its owner lets you see (more when you are signed in, or
    their contact). A number nobody has and one whose owner hides it answer the same 404; a
    mistyped number (wrong check digit) is refused with 422. Lookups are rate-limited per
    client and per account, misses costing more."""
    card = await lookup.look_up(db, limiter, viewer, number, client=client_address(request))
    return CardOut.of(card)
