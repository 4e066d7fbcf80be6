"""A post's pictures at signed addresses that expire, for the networks that fetch them
(:mod:`portal.domain.posts.public_pictures`): no sign-in, counted per client address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal import responses
from portal.deps import DB, LimiterDep, SettingsDep, client_address
from portal.domain.posts import public_pictures

router = APIRouter(prefix=public_pictures.PATH, include_in_schema=False)


@router.get("/{token}")
async def picture(
    request: Request, db: DB, settings: SettingsDep, limiter: LimiterDep, token: str
) -> Response:
    """A picture of a post, for the network it is published on."""
    await limiter.hit("public_picture", client_address(request))
    media = await public_pictures.picture(db, token, settings.secret_key)
    return responses.picture(media.data, media.mime_type, max_age=300, x_robots_tag="noindex")
