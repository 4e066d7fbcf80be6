"""The API reference, rendered by Swagger UI from our own static files (no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    """The interactive API reference."""
    return render(request, "docs", {})
