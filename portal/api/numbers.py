"""Looking a number up."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from portal.api.deps import OptionalApiUser
from portal.api.schemas import CardOut, errors
from portal.deps import DB, LimiterDep, client_address
from portal.domain import lookup
from portal.domain.privacy import Card

router = APIRouter(prefix="/api/v1", tags=["numbers"])

_RENDERED_MAX = 20_000
_rendered: dict[tuple[int, str], tuple[Card, bytes]] = {}
"""The JSON of cards the domain keeps (:mod:`portal.domain.card_cache`), by the card's identity
and the portal's address: a card looked up again is the same object, and is not serialised
again. The card is held with its JSON, so that its identity is not reused while it is here."""


def _json(card: Card, base_url: str) -> bytes:
    key = (id(card), base_url)
    rendered = _rendered.get(key)
    if rendered is not None and rendered[0] is card:
        return rendered[1]
    if len(_rendered) >= _RENDERED_MAX:
        _rendered.clear()
    body = CardOut.of(card).model_dump_json().encode()
    _rendered[key] = (card, body)
    return body


@router.get("/numbers/{number}", response_model=CardOut, responses=errors(404, 429))
async def get_number(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    number: str = Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored."),
) -> Response:
    """Look a portal number up: what its owner lets you see (more when you are signed in, or
    their contact). A number nobody has and one whose owner hides it answer the same 404; a
    mistyped number (wrong check digit) is refused with 422. Lookups are rate-limited per
    client and per account, misses costing more."""
    card = await lookup.look_up(db, limiter, viewer, number, client=client_address(request))
    body = _json(card, request.app.state.settings.base_url)
    return Response(body, media_type="application/json")
