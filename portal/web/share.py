"""Sharing a number: the share page, QR codes and vCards of pages, and the contact button.

The contact button (``/embed/<number>`` and ``/embed/<number>.js``) is made to be framed and
included by other websites: it always shows what an anonymous viewer sees, neither reads nor
sets cookies (see :class:`portal.middleware.SecurityHeadersMiddleware`), and is cached.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from portal import i18n
from portal.deps import DB, LimiterDep, SettingsDep, client_address
from portal.domain import qr, sharing
from portal.domain.privacy import Card, Relation
from portal.errors import NotFound, PortalError, RateLimited
from portal.share_files import NumberPath, VersionQuery, add_number_files, file_response
from portal.web.deps import CurrentUser, optional_user
from portal.web.offline import KEPT_OFFLINE
from portal.web.templating import render, templates

router = APIRouter(include_in_schema=False)

EMBED_CACHE = "public, max-age=300"
EMBED_MISSING_CACHE = "public, max-age=60"

add_number_files(router, "/n", optional_user)


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
    return render(request, "share", context, headers={"cache-control": KEPT_OFFLINE})


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
