"""Sharing a number: the share page, QR codes and vCards of pages, and the contact button.

The contact button (``/embed/<number>`` and ``/embed/<number>.js``) is made to be framed and
included by other websites: it always shows what an anonymous viewer sees, neither reads nor
sets cookies (see :class:`portal.middleware.SecurityHeadersMiddleware`), and is cached.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from portal import i18n
from portal.deps import DB, LimiterDep, SettingsDep, client_address
from portal.domain import qr, sharing
from portal.domain.privacy import Card, Relation
from portal.errors import NotFound, PortalError, RateLimited
from portal.ratelimit import RateLimiter
from portal.storage.models import User
from portal.web.deps import CurrentUser, OptionalUser
from portal.web.templating import render, templates

router = APIRouter(include_in_schema=False)

VIEWER_CACHE = "private, max-age=300"
"""QR codes: the code never changes, but whether it is served depends on who asks."""
VCARD_CACHE = "private, no-cache"
EMBED_CACHE = "public, max-age=300"
EMBED_MISSING_CACHE = "public, max-age=60"

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


# -- responses shared with the API ----------------------------------------------------------


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


async def qr_response(
    request: Request,
    db: DB,
    limiter: RateLimiter,
    base_url: str,
    viewer: User | None,
    number: str,
    kind: qr.Kind,
    chosen: qr.Style,
) -> Response:
    file = await sharing.qr_code(
        db, limiter, viewer, number, kind, chosen, base_url=base_url, client=client_address(request)
    )
    return file_response(request, file, cache_control=VIEWER_CACHE, vary="Cookie, Authorization")


async def vcard_response(
    request: Request,
    db: DB,
    limiter: RateLimiter,
    base_url: str,
    viewer: User | None,
    number: str,
    version: str,
) -> Response:
    checked = sharing.check_version(version)
    file = await sharing.vcard_for(
        db, limiter, viewer, number, checked, base_url=base_url, client=client_address(request)
    )
    return file_response(
        request, file, cache_control=VCARD_CACHE, vary="Cookie, Authorization", attachment=True
    )


# -- QR codes and vCards of a page ----------------------------------------------------------


@router.get("/n/{number}/qr.svg")
async def page_qr_svg(
    request: Request,
    db: DB,
    user: OptionalUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
    dark: Dark = "000000",
    light: Light = "ffffff",
) -> Response:
    """The QR code of a number's page, as SVG."""
    chosen = qr.style(scale=scale, border=border, dark=dark, light=light)
    return await qr_response(request, db, limiter, settings.base_url, user, number, "svg", chosen)


@router.get("/n/{number}/qr.png")
async def page_qr_png(
    request: Request,
    db: DB,
    user: OptionalUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
    dark: Dark = "000000",
    light: Light = "ffffff",
) -> Response:
    """The QR code of a number's page, as PNG."""
    chosen = qr.style(scale=scale, border=border, dark=dark, light=light)
    return await qr_response(request, db, limiter, settings.base_url, user, number, "png", chosen)


@router.get("/n/{number}/vcard")
async def page_vcard(
    request: Request,
    db: DB,
    user: OptionalUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    version: VersionQuery = "4.0",
) -> Response:
    """The number's contact card as the viewer may see it, for an address book."""
    return await vcard_response(request, db, limiter, settings.base_url, user, number, version)


# -- the share page ---------------------------------------------------------------------------


def _snippets(card: Card, base_url: str, language: str) -> dict[str, str]:
    """The three ways to put the contact button on a website, as HTML to copy."""
    base = base_url.rstrip("/")
    frame_url = f"{base}/embed/{card.number}"
    title = i18n.translations(language).gettext("Contact buttons")
    no_script = _render_text(
        "partials/_embed_links.html",
        language,
        {
            "card": card,
            "buttons": sharing.buttons(card),
            "page_url": sharing.page_url(base, card.number),
        },
    )
    return {
        "script": f'<script src="{frame_url}.js" async></script>',
        "iframe": (
            f'<iframe src="{frame_url}" title="{html.escape(title)}" width="352" '
            f'height="{sharing.frame_height(card)}" style="border:0" loading="lazy" '
            f'sandbox="{sharing.FRAME_SANDBOX}"></iframe>'
        ),
        "links": no_script.strip(),
    }


@router.get("/me/share")
async def share_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    settings: SettingsDep,
    as_: Annotated[str, Query(alias="as", max_length=20)] = "anyone",
) -> Response:
    """Share my number: its link, QR code, vCard and the contact button for a website."""
    relation = sharing.preview_relation(as_)
    card = await sharing.preview(db, user, relation)
    anonymous = (
        card
        if relation is Relation.ANONYMOUS
        else await sharing.preview(db, user, Relation.ANONYMOUS)
    )
    base = settings.base_url.rstrip("/")
    qr_svg = sharing.qr_file(card, "svg", qr.style(scale=6), base_url=base).data.decode()
    context: dict[str, Any] = {
        "card": card,
        "preview_as": next(name for name, value in sharing.PREVIEWS.items() if value is relation),
        "previews": list(sharing.PREVIEWS),
        "page_url": sharing.page_url(base, user.number),
        "qr_svg": Markup(qr_svg),  # noqa: S704 - drawn by segno from our own address
        "shown_to_anyone": await sharing.shown_to_anyone(db, user),
        "snippets": _snippets(anonymous, base, i18n.negotiate(request)),
        "frame_height": sharing.frame_height(anonymous),
    }
    return render(request, "share", context)


@router.get("/me/share/vcard")
async def share_vcard(
    request: Request,
    db: DB,
    user: CurrentUser,
    settings: SettingsDep,
    as_: Annotated[str, Query(alias="as", max_length=20)] = "anyone",
    version: VersionQuery = "4.0",
) -> Response:
    """My vCard as anyone, a member or a contact gets it."""
    relation = sharing.preview_relation(as_)
    checked = sharing.check_version(version)
    card = await sharing.preview(db, user, relation)
    file = sharing.vcard_file(card, checked, base_url=settings.base_url)
    return file_response(request, file, cache_control="no-store", attachment=True)


# -- the contact button ---------------------------------------------------------------------


def _render_text(name: str, language: str, context: dict[str, Any]) -> str:
    """A template rendered on its own: no session, no CSRF cookie, no request."""
    catalog = i18n.translations(language)
    values = {
        **context,
        "lang": language,
        "version": templates.env.globals["version"],
        "_": catalog.gettext,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
    }
    return templates.env.get_template(name).render(values)


def _embed_language(request: Request, lang: str) -> str:
    # The host page may choose; else the visitor's browser (cookies are never read here).
    return lang if lang in i18n.LANGUAGES else i18n.negotiate(request)


def _embed_error(exc: PortalError) -> Response:
    """What the button shows when there is nothing to show: the same for every such number."""
    headers = {"cache-control": EMBED_MISSING_CACHE if isinstance(exc, NotFound) else "no-store"}
    if isinstance(exc, RateLimited):
        headers["retry-after"] = str(exc.retry_after)
    return Response(
        exc.message, status_code=exc.status_code, media_type="text/plain", headers=headers
    )


LangQuery = Annotated[str, Query(max_length=10)]


@router.get("/embed/{number}.js")
async def embed_script(
    request: Request,
    db: DB,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    lang: LangQuery = "",
) -> Response:
    """The script a website includes to show the contact button where the script is."""
    language = _embed_language(request, lang)
    try:
        card = await sharing.contact_card(db, limiter, number, client=client_address(request))
    except PortalError as exc:
        return _embed_error(exc)
    frame_url = f"{settings.base_url.rstrip('/')}/embed/{card.number}"
    if lang in i18n.LANGUAGES:
        frame_url += f"?lang={lang}"
    script = sharing.embed_script(
        frame_url=frame_url,
        title=i18n.translations(language).gettext("Contact buttons"),
        height=sharing.frame_height(card),
    )
    data = script.encode()
    file = sharing.File(data, "text/javascript; charset=utf-8", sharing.etag(data))
    return file_response(request, file, cache_control=EMBED_CACHE, vary="Accept-Language")


@router.get("/embed/{number}")
async def embed_page(
    request: Request,
    db: DB,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: NumberPath,
    lang: LangQuery = "",
) -> Response:
    """The contact button: a page made to be framed by other websites."""
    language = _embed_language(request, lang)
    try:
        card = await sharing.contact_card(db, limiter, number, client=client_address(request))
    except PortalError as exc:
        return _embed_error(exc)
    buttons = sharing.buttons(card)
    page = _render_text(
        "pages/embed.html",
        language,
        {
            "card": card,
            "buttons": buttons,
            "writes": [button.label for button in buttons if button.writes],
            "follows": [button.label for button in buttons if not button.writes],
            "page_url": sharing.page_url(settings.base_url, card.number),
        },
    )
    data = page.encode()
    file = sharing.File(data, "text/html; charset=utf-8", sharing.etag(data))
    return file_response(request, file, cache_control=EMBED_CACHE, vary="Accept-Language")
