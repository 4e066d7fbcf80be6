"""Looking a number up."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from portal.api.deps import OptionalApiUser
from portal.api.schemas import CardOut, errors
from portal.deps import DB, CardsDep, LimiterDep, client_address
from portal.domain import lookup

router = APIRouter(prefix="/api/v1", tags=["numbers"])


@router.get("/numbers/{number}", response_model=CardOut, responses=errors(404, 429))
async def get_number(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    cards: CardsDep,
    number: str = Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored."),
) -> Response:
    """Look a portal number up: what its owner lets you see (more when you are signed in, or
    their contact). A number nobody has and one whose owner hides it answer the same 404; a
    mistyped number (wrong check digit) is refused with 422. Lookups are rate-limited per
    client and per account, misses costing more."""
    client = client_address(request)
    card = await lookup.look_up(db, limiter, viewer, number, client=client, cards=cards)
    # A kept card is serialised once, for the portal's address (schemas.absolute_links).
    base_url = request.app.state.settings.base_url
    body = cards.rendered(
        card, base_url, lambda shown: CardOut.of(shown).model_dump_json().encode()
    )
    return Response(body, media_type="application/json")
