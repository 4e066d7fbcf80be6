"""A number's QR codes and vCard over HTTP, for the pages (``/n/<number>/…``) and the API
(``/api/v1/numbers/<number>/…``) alike.

Both serve the same files with the same options, caching and refusals; they differ only in how
the viewer is recognised (the web session, or also a bearer token) and in what the OpenAPI
document says. So one set of routes is added to each router by :func:`add_number_files`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from portal.deps import DB, LimiterDep, SettingsDep, client_address
from portal.domain import qr, sharing
from portal.storage.models import User

VIEWER_CACHE = "private, max-age=300"
"""QR codes: the code never changes, but whether it is served depends on who asks."""
VCARD_CACHE = "private, no-cache"
VIEWER_VARY = "Cookie, Authorization"

NumberPath = Annotated[
    str, Path(max_length=100, description="Spaces, dashes, dots and '#' are ignored.")
]
Scale = Annotated[int, Query(description=f"Pixels per module, {qr.SCALE[0]} to {qr.SCALE[1]}.")]
Border = Annotated[
    int, Query(description=f"Quiet zone in modules, {qr.BORDER[0]} to {qr.BORDER[1]}.")
]
Dark = Annotated[str, Query(max_length=20, description="Hex colour, like 1a2b3c.")]
Light = Annotated[str, Query(max_length=20, description='Hex colour, or "transparent".')]
VersionQuery = Annotated[
    str,
    Query(
        max_length=10,
        description="4.0 (RFC 6350), or 3.0 (RFC 2426) for older address books.",
        json_schema_extra={"enum": ["4.0", "3.0"]},
    ),
]

FileKind = Literal["svg", "png", "vcard"]
Viewer = Callable[..., Awaitable[User | None]]
"""A dependency that answers who is asking, or ``None`` for an anonymous request."""


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def file_response(
    request: Request,
    file: sharing.File,
    *,
    cache_control: str,
    vary: str = "",
    attachment: bool = False,
) -> Response:
    """A file with its ETag, or ``304 Not Modified`` when the asker already has it."""
    headers = {"etag": file.etag, "cache-control": cache_control}
    if vary:
        headers["vary"] = vary
    if attachment and file.filename:
        headers["content-disposition"] = f'attachment; filename="{file.filename}"'
    if _matches(request.headers.get("if-none-match"), file.etag):
        return Response(status_code=304, headers=headers)
    return Response(file.data, media_type=file.content_type, headers=headers)


def add_number_files(
    router: APIRouter,
    prefix: str,
    viewer: Viewer,
    *,
    responses: Mapping[FileKind, dict[int | str, dict[str, Any]]] | None = None,
) -> None:
    """Add ``{prefix}/{number}/qr.svg``, ``…/qr.png`` and ``…/vcard`` to ``router``."""
    documented = responses or {}

    for kind in ("svg", "png"):
        _add_qr(router, prefix, viewer, kind, documented.get(kind))

    @router.get(
        f"{prefix}/{{number}}/vcard", response_class=Response, responses=documented.get("vcard")
    )
    async def get_vcard(
        request: Request,
        db: DB,
        limiter: LimiterDep,
        settings: SettingsDep,
        number: NumberPath,
        asker: User | None = Depends(viewer),
        version: VersionQuery = "4.0",
    ) -> Response:
        """The number's contact card (vCard 4.0, or 3.0), built from what the asker may see."""
        checked = sharing.check_version(version)
        file = await sharing.vcard_for(
            db,
            limiter,
            asker,
            number,
            checked,
            base_url=settings.base_url,
            client=client_address(request),
        )
        return file_response(
            request, file, cache_control=VCARD_CACHE, vary=VIEWER_VARY, attachment=True
        )


def _add_qr(
    router: APIRouter,
    prefix: str,
    viewer: Viewer,
    kind: qr.Kind,
    responses: dict[int | str, dict[str, Any]] | None,
) -> None:
    async def get_qr(
        request: Request,
        db: DB,
        limiter: LimiterDep,
        settings: SettingsDep,
        number: NumberPath,
        asker: User | None = Depends(viewer),
        scale: Scale = qr.DEFAULT_SCALE,
        border: Border = qr.DEFAULT_BORDER,
        dark: Dark = "000000",
        light: Light = "ffffff",
    ) -> Response:
        chosen = qr.style(scale=scale, border=border, dark=dark, light=light)
        file = await sharing.qr_code(
            db,
            limiter,
            asker,
            number,
            kind,
            chosen,
            base_url=settings.base_url,
            client=client_address(request),
        )
        return file_response(request, file, cache_control=VIEWER_CACHE, vary=VIEWER_VARY)

    get_qr.__doc__ = (
        f"The QR code of a number's page as {kind.upper()}; only where the number can be looked up."
    )
    router.add_api_route(
        f"{prefix}/{{number}}/qr.{kind}",
        get_qr,
        methods=["GET"],
        name=f"get_qr_{kind}",
        response_class=Response,
        responses=responses,
    )
