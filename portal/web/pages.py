"""The home page, the number box and the page of a number."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from connectors.atproto import client_metadata
from portal.deps import DB, CardsDep, LimiterDep, Services, client_address
from portal.domain import lookup, privacy, profile, relations
from portal.domain import number as numbers
from portal.domain.feeds import follows
from portal.errors import NotFound, PortalError
from portal.web.deps import OptionalUser
from portal.web.forms import form_error
from portal.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, user: OptionalUser, deleted: bool = False) -> Response:
    """The home page with the number box."""
    return render(request, "home", {"deleted": deleted, "values": {}})


@router.get("/lookup")
async def lookup_form(request: Request, user: OptionalUser, number: str = "") -> Response:
    """Read the number box and go to the number's page."""
    try:
        parsed = numbers.parse(number[:100])
    except PortalError as exc:
        return form_error(request, "home", exc, {"values": {"number": number[:100]}})
    return RedirectResponse(f"/n/{parsed}", status_code=303)


@router.get("/n/{number}")
async def number_page(
    request: Request, db: DB, user: OptionalUser, limiter: LimiterDep, cards: CardsDep, number: str
) -> Response:
    """The page of a portal number: what its owner lets this viewer see."""
    client = client_address(request)
    try:
        card = await lookup.look_up(db, limiter, user, number[:100], client=client, cards=cards)
    except PortalError as exc:
        return form_error(request, "home", exc, {"values": {"number": number[:100]}})
    if card.number != number:
        return RedirectResponse(f"/n/{card.number}", status_code=301)
    # The contact and follow buttons come with the page, so that they are right without
    # JavaScript too (after a plain form's redirect back here); an owner's and a contact's
    # contact buttons need no query.
    state = None
    if user is not None and card.apparent_relation not in (
        privacy.Relation.OWNER,
        privacy.Relation.CONTACT,
    ):
        state = await relations.state_between(db, user.id, card.user_id)
    following = (
        user is not None
        and card.apparent_relation is not privacy.Relation.OWNER
        and await follows.follows(db, user, card.user_id)
    )
    return render(request, "number", {"card": card, "contact_state": state, "following": following})


@router.get("/n/{number}/avatar")
async def avatar(
    request: Request, db: DB, user: OptionalUser, limiter: LimiterDep, cards: CardsDep, number: str
) -> Response:
    """The picture of a number, re-encoded as WebP, where its owner shows it to this viewer."""
    client = client_address(request)
    card = await lookup.look_up(db, limiter, user, number[:100], client=client, cards=cards)
    picture = await profile.avatar_of(db, card)
    etag = f'"{picture.etag}"'
    shared = card.relation is privacy.Relation.ANONYMOUS
    headers = {"etag": etag, "cache-control": f"{'public' if shared else 'private'}, max-age=300"}
    if not shared:
        headers["vary"] = "cookie"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(picture.data, media_type=picture.content_type, headers=headers)


@router.get("/oauth/bluesky/client-metadata.json")
async def bluesky_client_metadata(services: Services) -> Response:
    """This portal as an AT Protocol OAuth client: the document its client id names."""
    client = services.atproto_client()
    if client is None or not client.client_id.startswith("https://"):
        raise NotFound("This portal publishes no Bluesky client on this address.")
    document = client_metadata(client.client_id, client.redirect_uri, services.base_url)
    return JSONResponse(document, headers={"cache-control": "public, max-age=600"})
