"""Looking a number up."""

from __future__ import annotations

from fastapi import APIRouter, Path

from portal.api.schemas import CardOut, errors
from portal.deps import DB
from portal.domain import lookup

router = APIRouter(prefix="/api/v1", tags=["numbers"])


@router.get("/numbers/{number}", response_model=CardOut, responses=errors(404))
async def get_number(
    db: DB,
    number: str = Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored."),
) -> CardOut:
    """Look a portal number up; a mistyped number is refused with 422."""
    return CardOut.of(await lookup.look_up(db, number))
