"""A number's QR code and vCard, for whoever may look the number up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.api.deps import OptionalApiUser
from portal.api.schemas import errors
from portal.deps import DB, LimiterDep, SettingsDep
from portal.domain import qr
from portal.web.share import (
    Border,
    Dark,
    Light,
    NumberPath,
    Scale,
    VersionQuery,
    qr_response,
    vcard_response,
)

router = APIRouter(prefix="/api/v1", tags=["numbers"])


def _file(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        },
        304: {"description": "Not modified: the copy named by If-None-Match is current."},
        **errors(401, 404, 429),
    }


@router.get(
    "/numbers/{number}/qr.svg",
    response_class=Response,
    responses=_file("image/svg+xml", "The QR code of the number's page."),
)
async def get_qr_svg(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
    dark: Dark = "000000",
    light: Light = "ffffff",
) -> Response:
    """The QR code of a number's page as SVG; only where the number can be looked up."""
    chosen = qr.style(scale=scale, border=border, dark=dark, light=light)
    return await qr_response(request, db, limiter, settings.base_url, viewer, number, "svg", chosen)


@router.get(
    "/numbers/{number}/qr.png",
    response_class=Response,
    responses=_file("image/png", "The QR code of the number's page."),
)
async def get_qr_png(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
    dark: Dark = "000000",
    light: Light = "ffffff",
) -> Response:
    """The QR code of a number's page as PNG; only where the number can be looked up."""
    chosen = qr.style(scale=scale, border=border, dark=dark, light=light)
    return await qr_response(request, db, limiter, settings.base_url, viewer, number, "png", chosen)


@router.get(
    "/numbers/{number}/vcard",
    response_class=Response,
    responses=_file("text/vcard", "The contact card, with what the asker may see of it."),
)
async def get_vcard(
    request: Request,
    db: DB,
    viewer: OptionalApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    version: VersionQuery = "4.0",
) -> Response:
    """The number's contact card (vCard 4.0, or 3.0), built from what the asker may see."""
    return await vcard_response(request, db, limiter, settings.base_url, viewer, number, version)
