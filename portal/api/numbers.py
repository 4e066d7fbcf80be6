"""Looking a number up."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from portal.api.deps import optional_api_user
from portal.api.schemas import CardOut, errors
from portal.deps import client_address, unit_of_work
from portal.domain import lookup
from portal.domain.card_cache import CardCache
from portal.ratelimit import RateLimiter

router = APIRouter(prefix="/api/v1", tags=["numbers"])


@router.get("/numbers/{number}", response_model=CardOut, responses=errors(404, 429))
async def get_number(
    request: Request,
    number: str = Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored."),
) -> Response:
    """Look a portal number up: what its owner lets you see (more when you are signed in, or
    their contact). A number nobody has and one whose owner hides it answer the same 404; a
    mistyped number (wrong check digit) is refused with 422. Lookups are rate-limited per
    client and per account, misses costing more."""
    # The portal's hottest path takes what other routes get from dependencies (the session,
    # the viewer, the limiter, the kept cards) itself, by the same functions: FastAPI solving
    # them cost a quarter of a lookup answered from a kept card (make bench: 0.62 → 0.83 of
    # the rate of /healthz).
    state = request.app.state
    limiter: RateLimiter = state.limiter
    cards: CardCache = state.cards
    async with unit_of_work(request) as db:
        viewer = await optional_api_user(request, db)
        card = await lookup.look_up(
            db, limiter, viewer, number, client=client_address(request), cards=cards
        )
    # A kept card is serialised once, for the portal's address (schemas.absolute_links).
    body = cards.rendered(
        card, state.settings.base_url, lambda shown: CardOut.of(shown).model_dump_json().encode()
    )
    return Response(body, media_type="application/json")
