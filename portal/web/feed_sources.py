"""The feeds I follow, as a page: each one's health, adding one, a title and folder of my own,
unfollowing, fetching now, and OPML in and out.

The routes call the functions the JSON API calls (:mod:`portal.domain.feeds.sources`). A
refusal (an address inside a private network, a page that names no feed, a file that is not
OPML) is shown on the form it came from, as every form does (:func:`form_error`). A source is
named by a guessable id: those routes count as lookups, and another's source answers as one
that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from portal import csrf, i18n
from portal.db import write_next
from portal.deps import DB, LimiterDep, Services, calls_out, client_address
from portal.domain import lookup
from portal.domain.feeds import access, digest, opml, sources
from portal.errors import InvalidInput, PortalError
from portal.storage.models import User
from portal.web.deps import CurrentUser
from portal.web.forms import form_error, path_id, redirect
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(
    prefix="/feed/sources", dependencies=[Depends(csrf.verify)], include_in_schema=False
)

Text = Annotated[str, Form()]
PAGE = "/feed/sources"


async def _context(request: Request, db: DB, user: User) -> dict[str, Any]:
    language = i18n.negotiate(request)
    followed = await sources.list_sources(db, user)
    problems = {
        s.source_id: i18n.translate(language, s.health.last_error, s.health.error_params)
        for s in followed
        if s.health.last_error
    }
    return {
        "followed": followed,
        "problems": problems,
        "fever_on": user.fever_key_hash is not None,
        "address_on": user.feed_token_hash is not None,
        "digest_hour": user.digest_hour,
        "fever_url": request.app.state.settings.base_url.rstrip("/") + "/fever/",
    }


@router.get("")
async def sources_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """The feeds I follow, each with its health."""
    return render(request, "feed_sources", await _context(request, db, user))


@router.post("", dependencies=[Depends(calls_out)])
async def add_source(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    url: Text = "",
    folder: Text = "",
) -> Response:
    """Follow a feed, by its address or a page that names it."""
    try:
        if not url.strip():
            raise InvalidInput("Type the address of a feed or of a page.", field="url")
        await limiter.hit("feed_fetch", str(user.id))
        async with services.http() as http:
            added = await sources.subscribe(
                db, user, url[: sources.MAX_URL], http=http, folder=folder[:200]
            )
    except PortalError as exc:
        context = await _context(request, db, user)
        context["values"] = {"url": url[: sources.MAX_URL], "folder": folder[:200]}
        if exc.field not in ("url", "folder"):
            exc.field = "url"
        return form_error(request, "feed_sources", exc, context)
    toast(request, "You now follow %(title)s.", {"title": added.title or added.url})
    return redirect(request, PAGE)


@router.get("/opml")
async def export_opml(db: DB, user: CurrentUser) -> Response:
    """The feeds I follow as an OPML file, for another feed reader."""
    document = await sources.export_opml(db, user, title=f"Portal {user.number}")
    return Response(
        document,
        media_type="text/x-opml",
        headers={
            "content-disposition": 'attachment; filename="portal-feeds.opml"',
            "cache-control": "no-store",
        },
    )


@router.post("/opml")
async def import_opml(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    opml_file: Annotated[UploadFile | None, File(alias="opml")] = None,
) -> Response:
    """Follow every feed of an OPML file."""
    try:
        document = b""
        if opml_file is not None and opml_file.filename:
            document = await opml_file.read(opml.MAX_BYTES + 1)
        if not document:
            raise InvalidInput("Choose an OPML file to import.", field="opml")
        await limiter.hit("feed_fetch", str(user.id))  # each new feed is fetched soon
        report = await sources.import_opml(db, user, document)
    except PortalError as exc:
        exc.field = "opml"
        return form_error(request, "feed_sources", exc, await _context(request, db, user))
    toast(
        request,
        "Imported: %(added)s new, %(already)s followed already, %(unreadable)s unreadable.",
        {"added": report.added, "already": report.already, "unreadable": report.unreadable},
    )
    return redirect(request, PAGE)


# --- reading elsewhere: the private address, the Fever password, the digest's hour -----------


@router.post("/address")
async def new_address(request: Request, db: DB, user: CurrentUser, limiter: LimiterDep) -> Response:
    """A new private address of my feed, shown this once (the old one stops)."""
    await limiter.hit("token", str(user.id))  # a secret made, as an API token is
    secret = await access.new_feed_token(db, user)
    base = request.app.state.settings.base_url.rstrip("/") + f"/feeds/{secret}"
    context = await _context(request, db, user)
    context["made_address"] = {"atom": base + ".atom", "json": base + ".json"}
    return render(request, "feed_sources", context)


@router.post("/address/forget")
async def forget_address(request: Request, db: DB, user: CurrentUser) -> Response:
    access.forget_feed_token(user)
    toast(request, "Your feed's private address no longer works.")
    return redirect(request, PAGE + "#elsewhere")


@router.post("/fever")
async def set_fever(request: Request, db: DB, user: CurrentUser, password: Text = "") -> Response:
    """Let Fever apps sign in with a password of their own."""
    try:
        await access.set_fever_password(db, user, password)
    except InvalidInput as exc:
        exc.field = "password"
        return form_error(request, "feed_sources", exc, await _context(request, db, user))
    toast(request, "Fever apps can sign in with this password now.")
    return redirect(request, PAGE + "#elsewhere")


@router.post("/fever/forget")
async def forget_fever(request: Request, db: DB, user: CurrentUser) -> Response:
    access.forget_fever_password(user)
    toast(request, "Fever apps can no longer sign in.")
    return redirect(request, PAGE + "#elsewhere")


@router.post("/digest")
async def digest_hour(request: Request, db: DB, user: CurrentUser, hour: Text = "") -> Response:
    """Email my digest each day at an hour, or never."""
    try:
        chosen = int(hour) if hour.strip() else None
    except ValueError:
        chosen = -1  # refused below, in words
    try:
        digest.set_hour(user, chosen)
    except InvalidInput as exc:
        return form_error(request, "feed_sources", exc, await _context(request, db, user))
    if chosen is None:
        toast(request, "The digest is no longer emailed.")
    else:
        toast(
            request, "The digest will be emailed each day at %(hour)s:00 (UTC).", {"hour": chosen}
        )
    return redirect(request, PAGE + "#elsewhere")


@router.post("/{source_id}")
async def update_source(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    source_id: str,
    title: Text = "",
    folder: Text = "",
) -> Response:
    """Give a feed a title of my own, or put it in a folder."""
    chosen = path_id(source_id, sources.NO_SOURCE)
    try:
        await lookup.counted(
            limiter,
            user,
            client_address(request),
            sources.update_source(db, user, chosen, title=title[:1000], folder=folder[:200]),
        )
    except InvalidInput as exc:
        exc.field = None
        return form_error(request, "feed_sources", exc, await _context(request, db, user))
    toast(request, "Saved.")
    return redirect(request, PAGE)


@router.post("/{source_id}/unsubscribe")
async def unsubscribe(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, source_id: str
) -> Response:
    """Stop following a feed."""
    chosen = path_id(source_id, sources.NO_SOURCE)
    await lookup.counted(
        limiter, user, client_address(request), sources.unsubscribe(db, user, chosen)
    )
    toast(request, "You no longer follow this feed.")
    return redirect(request, PAGE)


@router.post("/{source_id}/refresh", dependencies=[Depends(calls_out)])
async def refresh(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    source_id: str,
) -> Response:
    """Fetch a feed now (a paused one too); its health says how it went."""
    chosen = path_id(source_id, sources.NO_SOURCE)
    await limiter.hit("feed_fetch", str(user.id))
    found = await lookup.counted(
        limiter, user, client_address(request), sources.own(db, user, chosen)
    )
    await write_next(db)  # no transaction stays open while the feed's server answers
    async with services.http() as http:
        refreshed = await sources.refresh(db, found, http=http)
    if refreshed.health.last_error:
        toast(request, "The feed could not be fetched; its health says why.", kind="error")
    else:
        toast(request, "The feed is fetched.")
    return redirect(request, PAGE)
