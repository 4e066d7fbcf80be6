"""The unified feed for other reader apps: the Fever API, and a private address serving it
as Atom and JSON Feed. Both are set up (and ended) through the JSON API by their owner.

- ``POST /fever/?api`` speaks Fever (:mod:`portal.domain.feeds.fever`), signed in by the key
  the app sends; a key that opens no account gets Fever's ``"auth": 0`` and counts against
  the client address, so that keys cannot be tried at speed.
- ``GET /feeds/{secret}.atom`` and ``.json``: the newest entries, as the owner reads them
  now. A secret that opens nothing is a 404 like any unknown address, counted the same way.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from portal.api.deps import ApiUser
from portal.api.schemas import errors
from portal.deps import DB, LimiterDep, SettingsDep, client_address
from portal.domain.feeds import access, fever, publish
from portal.domain.feeds import read as feed
from portal.errors import N_, NotFound

router = APIRouter()
READER_APPS: list[str | Enum] = ["reader apps"]

FEED_ENTRIES = 50
NO_SUCH_FEED = N_("There is no feed at this address.")


# --- Fever ---------------------------------------------------------------------------------


_FEVER = {
    "summary": "The Fever API, for reader apps",
    "description": (
        "Fever API version 3 (https://feedafever.com/api): post `api_key` (the MD5 of "
        "`number:password`, with the password set through `PUT /api/v1/me/fever`) to "
        "`/fever/?api&items`, `?api&feeds`… Answers JSON."
    ),
    "responses": {200: {"content": {"application/json": {}}}, **errors(429)},
    "tags": READER_APPS,
}


@router.post("/fever/", **_FEVER)  # type: ignore[arg-type]
async def fever_api(request: Request, db: DB, limiter: LimiterDep) -> JSONResponse:
    """Fever's one door: always a POST (it may mark items), the key in the form."""
    form = await request.form()
    asked = dict(request.query_params)
    asked.update({name: value for name, value in form.items() if isinstance(value, str)})
    user = await access.user_for_fever_key(db, asked.get("api_key", ""))
    if user is None:
        await limiter.hit("fever_key", client_address(request))
        return JSONResponse(fever.refused())
    await limiter.hit("fever", str(user.id))
    return JSONResponse(await fever.answer(db, user, asked))


class FeverIn(BaseModel):
    password: str = Field(
        min_length=access.FEVER_PASSWORD_LENGTH,
        max_length=access.FEVER_PASSWORD_MAX,
        description="A password for Fever apps alone; the username is your portal number.",
    )


class FeverOut(BaseModel):
    url: str = Field(description="The address to give a Fever app.")
    username: str = Field(description="Your portal number.")


@router.put(
    "/api/v1/me/fever",
    response_model=FeverOut,
    responses=errors(401, 403, 422),
    tags=["feed"],
    summary="Let Fever apps sign in with a password of their own",
)
async def set_fever(body: FeverIn, db: DB, user: ApiUser, settings: SettingsDep) -> FeverOut:
    await access.set_fever_password(db, user, body.password)
    return FeverOut(url=settings.base_url.rstrip("/") + "/fever/", username=user.number)


@router.delete(
    "/api/v1/me/fever",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    tags=["feed"],
    summary="Stop every Fever app signing in",
)
async def forget_fever(db: DB, user: ApiUser) -> Response:
    access.forget_fever_password(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the private address -----------------------------------------------------------------------


class FeedAddressOut(BaseModel):
    atom: str = Field(description="Your feed as Atom; keep it secret, it opens your feed.")
    json_feed: str = Field(description="The same as JSON Feed 1.1.")


@router.post(
    "/api/v1/me/feed-address",
    response_model=FeedAddressOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403),
    tags=["feed"],
    summary="Make a new private address of my feed (the old one stops)",
)
async def new_feed_address(db: DB, user: ApiUser, settings: SettingsDep) -> FeedAddressOut:
    secret = await access.new_feed_token(db, user)
    base = settings.base_url.rstrip("/") + f"/feeds/{secret}"
    return FeedAddressOut(atom=base + ".atom", json_feed=base + ".json")


@router.delete(
    "/api/v1/me/feed-address",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    tags=["feed"],
    summary="End the private address of my feed",
)
async def forget_feed_address(db: DB, user: ApiUser) -> Response:
    access.forget_feed_token(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


Secret = Annotated[str, Path(description="The secret of the address.")]


@router.get(
    "/feeds/{secret}.atom",
    responses={200: {"content": {"application/atom+xml": {}}}, **errors(404, 429)},
    tags=READER_APPS,
    summary="My feed as Atom, at its private address",
)
async def private_atom(
    secret: Secret, request: Request, db: DB, limiter: LimiterDep, settings: SettingsDep
) -> Response:
    channel, items = await _private(secret, request, db, limiter, settings, "atom")
    return Response(publish.atom(channel, items), media_type=publish.ATOM_TYPE, headers=_PRIVATE)


@router.get(
    "/feeds/{secret}.json",
    responses={200: {"content": {"application/feed+json": {}}}, **errors(404, 429)},
    tags=READER_APPS,
    summary="My feed as JSON Feed, at its private address",
)
async def private_json_feed(
    secret: Secret, request: Request, db: DB, limiter: LimiterDep, settings: SettingsDep
) -> Response:
    channel, items = await _private(secret, request, db, limiter, settings, "json")
    body = publish.json_feed(channel, items)
    return Response(body, media_type=publish.JSON_FEED_TYPE, headers=_PRIVATE)


_PRIVATE = {"cache-control": "private, max-age=300", "x-robots-tag": "noindex"}


async def _private(
    secret: str,
    request: Request,
    db: DB,
    limiter: LimiterDep,
    settings: SettingsDep,
    suffix: str,
) -> tuple[publish.Channel, tuple[feed.Item, ...]]:
    user = await access.user_for_feed_token(db, secret)
    if user is None:
        await limiter.hit("fever_key", client_address(request))
        raise NotFound(NO_SUCH_FEED)
    base = settings.base_url.rstrip("/")
    page = await feed.timeline(db, user, limit=FEED_ENTRIES)
    channel = publish.Channel(
        title=f"Portal · {user.display_name}",
        self_url=f"{base}/feeds/{secret}.{suffix}",
        home_url=f"{base}/feed",
    )
    return channel, page.items
