"""My contacts: the list, requests in and out, blocks, tags, invitations, and the contact
buttons shown on a number's page."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.config import Settings
from portal.deps import DB, LimiterDep, SettingsDep, client_address, mailer, person_named
from portal.domain import contacts, invites, lookup, privacy, relations
from portal.errors import PortalError, RateLimited
from portal.storage.models import User
from portal.web.deps import CurrentUser, OptionalUser
from portal.web.forms import form_error, redirect, safe_next
from portal.web.offline import KEPT_OFFLINE
from portal.web.templating import is_htmx, render
from portal.web.toast import discard, toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]

ACTIONS: dict[str, relations.Among] = {
    "request": "anyone",
    "cancel": "sent",
    "accept": "received",
    "decline": "received",
    "remove": "contact",
    "block": "anyone",
    "unblock": "blocked",
}
"""The contact buttons, and whom each may find by number."""


def invite_url(settings: Settings, secret: str) -> str:
    return invites.invite_link(settings.base_url, secret)


def qr_svg(url: str) -> str:
    """The QR code of a link, as an SVG element to put in a page."""
    svg: str = segno.make(url, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return svg


def _int(text: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    return min(max(int(text), low), high) if text.isdigit() and len(text) < 7 else default


async def _contacts_context(
    db: DB,
    user: User,
    *,
    sort: str = "name",
    network: str = "",
    q: str = "",
    tag: str = "",
    page: str = "1",
) -> dict[str, Any]:
    sort = sort if sort in contacts.SORTS else "name"
    found = await contacts.list_contacts(
        db,
        user,
        sort=sort,
        network=network[:40],
        text=q[:100],
        tag=tag[:40],
        page=_int(page, 1),
    )
    return {
        "contacts": found,
        "filters": {"sort": sort, "network": network[:40], "q": q[:100], "tag": tag[:40]},
        "incoming": await contacts.pending_requests(db, user, incoming=True),
        "outgoing": await contacts.pending_requests(db, user, incoming=False),
        "sorts": contacts.SORTS,
    }


@router.get("/me/contacts")
async def contacts_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    sort: str = "name",
    network: str = "",
    q: str = "",
    tag: str = "",
    page: str = "1",
) -> Response:
    """My contacts and the requests waiting for an answer."""
    context = await _contacts_context(db, user, sort=sort, network=network, q=q, tag=tag, page=page)
    headers = {"cache-control": KEPT_OFFLINE}
    return render(request, "contacts", context, fragment="contact_list", headers=headers)


@router.post("/me/contacts")
async def send_request(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: Text = "",
    message: Text = "",
) -> Response:
    """Ask someone, by number, to become contacts."""
    try:
        sent = await lookup.ask(
            db,
            limiter,
            user,
            number,
            message,
            client=client_address(request),
            mailer=mailer(settings),
        )
    except PortalError as exc:
        context = await _contacts_context(db, user)
        context["values"] = {"number": number[:100], "message": message[:300]}
        if exc.field not in (None, "number", "message"):
            exc.field = None
        elif exc.field is None:
            exc.field = "number"
        return form_error(request, "contacts", exc, context)
    if sent.status == "contacts":
        toast(request, "You are now contacts.")
    else:
        toast(request, "Your request is sent.")
    return redirect(request, "/me/contacts")


async def _act(
    request: Request,
    db: DB,
    user: User,
    limiter: LimiterDep,
    number: str,
    action: str,
    settings: Settings,
) -> User:
    """Do one of the contact buttons' actions on the person behind a number; who they are."""
    sender = mailer(settings)
    if action == "request":
        client = client_address(request)
        sent = await lookup.ask(db, limiter, user, number, client=client, mailer=sender)
        if sent.status == "contacts":
            toast(request, "You are now contacts.")
        else:
            toast(request, "Your request is sent.")
        return sent.other
    other = await person_named(request, db, limiter, user, number, ACTIONS[action])
    if action == "cancel":
        await contacts.cancel(db, user, other)
        toast(request, "Your request is withdrawn.")
    elif action == "accept":
        await contacts.accept(db, user, other, mailer=sender)
        toast(request, "You are now contacts.")
    elif action == "decline":
        await contacts.decline(db, user, other)
        toast(request, "The request is declined.")
    elif action == "remove":
        await contacts.remove(db, user, other)
        toast(request, "The contact is removed.")
    elif action == "block":
        await contacts.block(db, user, other)
        toast(request, "Blocked: they can no longer ask to become your contact.")
    elif action == "unblock":
        await contacts.unblock(db, user, other)
        toast(request, "Unblocked.")
    return other


@router.post("/me/contacts/{number}/tags")
async def add_tag(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str, tag: Text = ""
) -> Response:
    """Put a tag of mine on a contact."""
    try:
        other = await person_named(request, db, limiter, user, number, "contact")
        await contacts.add_tag(db, user, other, tag[:1000])
    except PortalError as exc:
        context = await _contacts_context(db, user)
        exc.field = None
        return form_error(request, "contacts", exc, context)
    toast(request, "The tag is added.")
    return redirect(request, "/me/contacts")


@router.post("/me/contacts/{number}/tags/remove")
async def remove_tag(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str, tag: Text = ""
) -> Response:
    """Take a tag off a contact."""
    other = await person_named(request, db, limiter, user, number, "contact")
    await contacts.remove_tag(db, user, other, tag)
    toast(request, "The tag is removed.")
    return redirect(request, "/me/contacts")


@router.get("/me/contacts/{number}/actions")
async def contact_actions(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str
) -> Response:
    """The contact buttons for one person, as they stand now (counted as a lookup)."""
    other = await person_named(request, db, limiter, user, number, "anyone")
    [card] = await privacy.cards_for(db, user, [other])
    context = {"card": card, "contact_state": await relations.state_with(db, user, other)}
    return render(request, "contact_actions", context, fragment="contact_actions")


@router.post("/me/contacts/{number}/{action}")
async def contact_action(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: str,
    action: str,
    next: Text = "",
) -> Response:
    """Add, withdraw, accept, decline, remove, block or unblock one person."""
    if action not in ACTIONS:
        raise PortalError("There is no such action.", status_code=404)
    back = safe_next(next, "/me/contacts")
    try:
        other = await _act(request, db, user, limiter, number, action, settings)
    except PortalError as exc:
        discard(request)
        if not is_htmx(request):
            raise
        # The buttons show the message in place, with nothing written; too many tries are
        # refused as such, shown in place all the same.
        request.state.rollback = True
        context = {
            "card": None,
            "contact_state": "none",
            "error": i18n.error_text(request, exc),
            "refocus": True,
        }
        limited = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return render(
            request,
            "contact_actions",
            context,
            fragment="contact_actions",
            status_code=exc.status_code if limited else 200,
            headers=limited,
        )
    if is_htmx(request) and request.headers.get("hx-target") == "contact-actions":
        [card] = await privacy.cards_for(db, user, [other])
        state = await relations.state_with(db, user, other)
        return render(
            request,
            "contact_actions",
            {"card": card, "contact_state": state, "refocus": True},
            fragment="contact_actions",
        )
    return redirect(request, back)


@router.get("/me/contacts/blocked")
async def blocked_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """The people I blocked."""
    return render(request, "blocks", {"blocked": await contacts.blocks(db, user)})


# --- invitations ------------------------------------------------------------------------------


@router.get("/me/invites")
async def invites_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """Invite someone I meet: a one-time link and its QR code."""
    context: dict[str, Any] = {"invites": await invites.live_invites(db, user), "new": None}
    return render(request, "invites", context)


@router.post("/me/invites")
async def create_invite(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, settings: SettingsDep
) -> Response:
    """Make a new one-time invitation."""
    try:
        await limiter.hit("invite", str(user.id))
        made = await invites.create_invite(db, user)
    except PortalError as exc:
        gone = {"invites": await invites.live_invites(db, user), "new": None}
        return form_error(request, "invites", exc, gone)
    toast(request, "A new invitation is ready.")
    url = invite_url(settings, made.secret)
    context: dict[str, Any] = {
        "invites": await invites.live_invites(db, user),
        "new": {"url": url, "qr": qr_svg(url), "expires_at": made.invite.expires_at},
    }
    return render(request, "invites", context, status_code=201)


@router.get("/i/{secret}")
async def invite_page(
    request: Request, db: DB, user: OptionalUser, limiter: LimiterDep, secret: str
) -> Response:
    """Who invites me to become their contact."""
    await limiter.hit("invite", client_address(request))
    card = await invites.invite_card(db, user, secret)
    return render(request, "invite", {"card": card, "secret": secret})


@router.post("/i/{secret}")
async def use_invite(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    secret: str,
) -> Response:
    """Accept an invitation: we become mutual contacts."""
    await limiter.hit("invite", str(user.id))
    await limiter.hit("invite", client_address(request))
    await invites.accept_invite(db, user, secret, mailer=mailer(settings))
    toast(request, "You are now contacts.")
    return redirect(request, "/me/contacts")
