"""A number's QR code and vCard, for whoever may look the number up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from portal.api.deps import optional_api_user
from portal.api.schemas import errors
from portal.share_files import add_number_files

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


add_number_files(
    router,
    "/numbers",
    optional_api_user,
    responses={
        "svg": _file("image/svg+xml", "The QR code of the number's page."),
        "png": _file("image/png", "The QR code of the number's page."),
        "vcard": _file("text/vcard", "The contact card, with what the asker may see of it."),
    },
)
