"""A post's pictures at signed addresses that expire, for the networks that fetch them
(:mod:`portal.domain.posts.public_pictures`): no sign-in, counted per client address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

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
    return Response(
        media.data,
        media_type=media.mime_type,
        headers={
            "cache-control": "private, max-age=300",
            "content-security-policy": "default-src 'none'; sandbox",
            "x-content-type-options": "nosniff",
            "x-robots-tag": "noindex",
        },
    )
