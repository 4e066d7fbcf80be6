"""My linked accounts: add (by handle, OAuth, signing in, a code or a widget), list with
their status, reorder, check, reconnect and remove."""

from __future__ import annotations

import copy
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

import connectors
from connectors.base import Connector
from connectors.email import Email
from portal import csrf, i18n
from portal.deps import DB, LimiterDep, Services, calls_out
from portal.domain import guide, linking, privacy
from portal.domain.linking import LinkServices, connections, mailbox, oauth, proofs
from portal.errors import N_, InvalidInput, PortalError
from portal.storage.models import MAX_ID, User
from portal.web import icons
from portal.web.deps import CurrentUser
from portal.web.forms import form_error, redirect
from portal.web.templating import is_htmx, render
from portal.web.toast import toast

router = APIRouter(
    prefix="/me/accounts", dependencies=[Depends(csrf.verify)], include_in_schema=False
)

Text = Annotated[str, Form()]

# The Telegram Login Widget is a script and a frame from telegram.org: allowed on its page only.
_TELEGRAM_CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; "
    "frame-src https://oauth.telegram.org; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def _list_context(db: DB, user: User, services: LinkServices) -> dict[str, Any]:
    accounts = await linking.list_accounts(db, user)
    return {
        "accounts": [(account, linking.describe(account)) for account in accounts],
        "link_back": {a.id for a in accounts if proofs.verifiable_by_link(a.network)},
        "editable": {a.id for a in accounts if linking.handle_editable(a)},
        "networks": icons.ordered(linking.networks(services), lambda network: network.name),
    }


@dataclass(frozen=True)
class _Editing:
    """The account whose handle is in a form, in its place in the list, and what it holds."""

    account_id: int
    handle: str
    network: linking.NetworkInfo | None = None
    """Its network's name for a handle, and an example; filled in by :func:`_list_page`."""


async def _list_page(
    request: Request,
    db: DB,
    user: User,
    services: LinkServices,
    *,
    error: PortalError | None = None,
    keep_writes: bool = False,
    editing: _Editing | None = None,
    focus: int = 0,
) -> Response:
    context = await _list_context(db, user, services)
    context.update(editing=editing, focus=focus)
    if editing is not None:  # only an account of the list whose handle can be edited
        account = next((a for a, _ in context["accounts"] if a.id == editing.account_id), None)
        cls = (
            connectors.get(account.network)
            if account and linking.handle_editable(account)
            else None
        )
        network = linking.network_info(services, cls) if cls else None
        context["editing"] = replace(editing, network=network) if network else None
    if error is not None:
        if error.field and context["editing"] is None:
            # The list has no such field: show the message above it instead.
            error = copy.copy(error)
            error.field = None
        if is_htmx(request) and context["editing"] is not None:
            # htmx swaps in a form sent again with its errors as a 422 (see base.html), so
            # that a refused handle (a duplicate among them) shows next to its field.
            error = copy.copy(error)
            error.status_code = 422
        return form_error(
            request, "accounts", error, context, fragment="accounts", keep_writes=keep_writes
        )
    return render(request, "accounts", context, fragment="accounts")


@router.get("")
async def accounts_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    linked: int = 0,
    focus: int = 0,
) -> Response:
    """My linked accounts."""
    if linked:
        toast(request, "The account is linked and verified.")
    return await _list_page(request, db, user, services, focus=focus)


def _add_form(
    request: Request,
    services: LinkServices,
    cls: type[Connector],
    values: dict[str, str],
    *,
    reconnect: int = 0,
    error: PortalError | None = None,
    then: str = "",
) -> Response:
    """The form that links an account of one network, again with its error if there is one."""
    context = {
        "then": then,
        "network": linking.network_info(services, cls),
        "values": values,
        "reconnect": reconnect,
        "telegram_bot": services.telegram_bot_username,
        "callback": services.redirect_uri(cls.NAME),
        "atproto_oauth": cls.AUTH == "atproto" and services.atproto_client() is not None,
    }
    if error is None:
        response: Response = render(request, "account_add", context)
    else:
        response = form_error(request, "account_add", error, context)
    if cls.AUTH == "widget" and services.telegram_bot_username:
        response.headers["content-security-policy"] = _TELEGRAM_CSP
    return response


@router.get("/add")
async def add_page(
    request: Request,
    user: CurrentUser,
    services: Services,
    network: str = "",
    handle: str = "",
    reconnect: int = 0,
    next: str = "",
) -> Response:
    """The form that links an account of one network."""
    cls = linking.connector(network[:40])
    return _add_form(
        request,
        services,
        cls,
        {"handle": handle[:320]},
        reconnect=reconnect if 0 < reconnect <= MAX_ID else 0,
        then=_then(next),
    )


def _then(next: str) -> str:
    """Where adding by handle goes back to: the guided start when it came from there."""
    return guide.START if next == guide.START else ""


@router.post("")  # calls no other server: a writer from the start, that waits its turn
async def add_handle(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    network: Text = "",
    handle: Text = "",
    next: Text = "",
) -> Response:
    """Show an account by its handle alone, marked unverified."""
    cls = linking.connector(network[:40])
    then = _then(next)
    try:
        await limiter.hit("profile", str(user.id))
        await linking.add_handle(db, user, network, handle, context=services.context)
    except PortalError as exc:
        values = {"handle": handle[:320]}
        return _add_form(request, services, cls, values, error=exc, then=then)
    toast(request, "The account is on your card, marked unverified.")
    return redirect(request, then or "/me/accounts")


def _linked(request: Request, user: User) -> Response:
    """After an account is linked: back to the guided start (which says so in a toast) while
    the person is on it, else to the list, which says it itself."""
    target = guide.after_linking(user)
    if target == guide.START:
        toast(request, "The account is linked and verified.")
    return redirect(request, target)


def _go(request: Request, url: str) -> Response:
    """Send the browser to another site. A form's redirect there would break the page's
    ``form-action 'self'``, so htmx navigates by script and a plain form gets a link."""
    if is_htmx(request):
        return Response(status_code=204, headers={"hx-redirect": url})
    return render(request, "continue", {"url": url})


@router.post("/{network}/authorize", dependencies=[Depends(calls_out)])
async def authorize(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    network: str,
    server: Text = "",
    reconnect: Text = "",
) -> Response:
    """Start linking on the network's own site (OAuth)."""
    cls = linking.connector(network[:40])
    try:
        account_id = int(reconnect) if reconnect.isdigit() else None
        await limiter.hit("link", str(user.id))
        url = await oauth.start(db, services, user, network, server, account_id=account_id)
    except PortalError as exc:
        return _add_form(request, services, cls, {"server": server[:255]}, error=exc)
    return _go(request, url)


@router.get("/{network}/callback")
async def callback(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    network: str,
    state: str = "",
    code: str = "",
    error: str = "",
    error_description: str = "",
    iss: str = "",
) -> Response:
    """Where the network sends the person back after they authorized the link."""
    try:
        if network == "telegram":
            await proofs.link_by_widget(db, services, user, request.query_params)
        else:
            await oauth.finish(
                db,
                services,
                user,
                network[:40],
                state=state,
                code=code,
                error=error[:100],
                error_description=error_description[:300],
                iss=iss[:300],
                returned=request.query_params,
            )
    except PortalError as exc:
        # What was consumed stays consumed: a replayed answer must not work a second time.
        return await _list_page(request, db, user, services, error=exc, keep_writes=True)
    return _linked(request, user)


@router.post("/{network}/sign-in", dependencies=[Depends(calls_out)])
async def sign_in(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    network: str,
    handle: Text = "",
    password: Text = "",
    reconnect: Text = "",
) -> Response:
    """Link an account by signing in to it; the password is not kept where a token can be."""
    cls = linking.connector(network[:40])
    try:
        account_id = int(reconnect) if reconnect.isdigit() else None
        await limiter.hit("link", str(user.id))
        await proofs.link_by_sign_in(
            db, services, user, network, handle, password, account_id=account_id
        )
    except PortalError as exc:
        return _add_form(request, services, cls, {"handle": handle[:320]}, error=exc)
    return _linked(request, user)


@router.post("/email/code", dependencies=[Depends(calls_out)])
async def send_code(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    handle: Text = "",
) -> Response:
    """Mail a one-time code to an address."""
    try:
        await limiter.hit("email_code", str(user.id))
        account = await proofs.send_email_code(db, services, user, handle)
    except PortalError as exc:
        values = {"handle": handle[:320]}
        return _add_form(request, services, Email, values, error=exc)
    toast(request, "A code is on its way to %(address)s.", {"address": account.handle})
    return redirect(request, f"/me/accounts/{account.id}/code")


@router.get("/{account_id}/code")
async def code_page(request: Request, db: DB, user: CurrentUser, account_id: int) -> Response:
    """The form for the emailed code."""
    account = await linking.get_account(db, user, account_id)
    left = await proofs.attempts_left(db, account)
    return render(request, "account_code", {"account": account, "left": left})


@router.post("/{account_id}/code")
async def confirm_code(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    account_id: int,
    code: Text = "",
) -> Response:
    """Check the emailed code."""
    check = await proofs.confirm_email_code(db, services, user, account_id, code)
    error = check.error
    if error is None:
        return _linked(request, user)
    # Rendered, not raised: the wrong try was counted and that write must be kept.
    message = i18n.error_text(request, error)
    context = {"account": check.account, "left": check.left, "error": message}
    return render(request, "account_code", context, status_code=422)


async def _act(
    request: Request,
    db: DB,
    user: User,
    services: LinkServices,
    action: Awaitable[object],
    done: str = "",
) -> Response:
    """Do ``action``; say ``done`` when it is done, on the list or on the page that follows."""
    try:
        await action
    except PortalError as exc:
        return await _list_page(request, db, user, services, error=exc)
    if done:
        toast(request, done)
    if is_htmx(request):
        return await _list_page(request, db, user, services)
    return redirect(request, "/me/accounts")


@router.post("/{account_id}/audience")
async def audience(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    account_id: int,
    audience: Text = "",
) -> Response:
    """Choose who sees an account behind my number."""
    action = privacy.set_account_audience(db, user, account_id, audience[:20])
    return await _act(request, db, user, services, action, N_("Who sees the account is saved."))


@router.get("/{account_id}/edit")
async def edit_page(
    request: Request, db: DB, user: CurrentUser, services: Services, account_id: int
) -> Response:
    """My linked accounts, with the handle of one of them in a form to correct it."""
    try:
        account = await linking.get_account(db, user, account_id)
        linking.check_handle_editable(account)
    except PortalError as exc:
        return await _list_page(request, db, user, services, error=exc)
    editing = _Editing(account.id, linking.handle_to_edit(account))
    return await _list_page(request, db, user, services, editing=editing)


@router.post("/{account_id}/handle")
async def change_handle(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    account_id: int,
    handle: Text = "",
) -> Response:
    """Correct the handle of an account added by hand; it keeps its place and audience."""
    try:
        await limiter.hit("profile", str(user.id))
        await linking.change_handle(db, user, account_id, handle, context=services.context)
    except PortalError as exc:
        editing = _Editing(account_id, handle[:1000])
        return await _list_page(request, db, user, services, error=exc, editing=editing)
    toast(request, "The handle is corrected.")
    if is_htmx(request):
        return await _list_page(request, db, user, services, focus=account_id)
    return redirect(request, "/me/accounts")


@router.post("/{account_id}/move")
async def move(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    account_id: int,
    direction: Text = "",
) -> Response:
    """Move an account up or down the list."""
    if direction not in ("up", "down"):
        error = InvalidInput("Move an account up or down.", field="direction")
        return await _list_page(request, db, user, services, error=error)
    offset = -1 if direction == "up" else 1
    done = N_("The account is moved up.") if direction == "up" else N_("The account is moved down.")
    action = linking.move(db, user, account_id, offset)
    return await _act(request, db, user, services, action, done)


@router.post("/{account_id}/remove", dependencies=[Depends(calls_out)])
async def remove(
    request: Request, db: DB, user: CurrentUser, services: Services, account_id: int
) -> Response:
    """Unlink an account (its tokens are revoked where the network allows)."""
    action = connections.remove_account(db, services, user, account_id)
    return await _act(request, db, user, services, action, N_("The account is unlinked."))


@router.post("/{account_id}/check", dependencies=[Depends(calls_out)])
async def check(
    request: Request, db: DB, user: CurrentUser, services: Services, account_id: int
) -> Response:
    """Check that the connection still works."""
    return await _act(request, db, user, services, _check(request, db, services, user, account_id))


async def _check(
    request: Request, db: DB, services: LinkServices, user: User, account_id: int
) -> None:
    """Check an account, and say how it went: working, or to be connected again."""
    account = await connections.check_account(db, services, user, account_id)
    if account.status == linking.NEEDS_RECONNECT:
        toast(request, "The connection is lost: connect the account again.", kind="error")
    else:
        toast(request, "The connection works.")


@router.post("/{account_id}/verify-link", dependencies=[Depends(calls_out)])
async def verify_link(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    account_id: int,
) -> Response:
    """Verify an account whose public page links back here with rel="me"."""
    await limiter.hit("link", str(user.id))
    action = proofs.verify_by_link(db, services, user, account_id)
    return await _act(request, db, user, services, action, N_("The account is verified by link."))


@router.post("/{account_id}/reconnect", dependencies=[Depends(calls_out)])
async def reconnect(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    account_id: int,
) -> Response:
    """Connect an account again, in one click where the network authorizes by OAuth."""
    account = await linking.get_account(db, user, account_id)
    if mailbox.connected(account):
        # The address is still proven: it is its mailbox that no longer takes the password.
        return redirect(request, f"/me/accounts/{account.id}/mailbox")
    cls = linking.connector(account.network)
    # A Bluesky account linked by app password comes back the way it came, by the form.
    if oauth.is_oauth(cls, account):
        try:
            await limiter.hit("link", str(user.id))
            url = await oauth.start(
                db, services, user, account.network, account.server, account_id=account.id
            )
        except PortalError as exc:
            return await _list_page(request, db, user, services, error=exc)
        return _go(request, url)
    query = urlencode({"network": cls.NAME, "handle": account.handle, "reconnect": account.id})
    return redirect(request, f"/me/accounts/add?{query}")
