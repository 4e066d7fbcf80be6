"""The mailbox of a verified email address: connect it (IMAP and SMTP), change it, disconnect."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from connectors._mailbox import SECURITIES, MailboxSettings, MailServer
from portal import csrf
from portal.deps import DB, LimiterDep, Services, calls_out
from portal.domain import linking
from portal.domain.linking import LinkServices, mailbox
from portal.errors import InvalidInput, PortalError
from portal.storage.models import User
from portal.web.deps import CurrentUser
from portal.web.forms import form_error, redirect
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(
    prefix="/me/accounts", dependencies=[Depends(csrf.verify)], include_in_schema=False
)

Text = Annotated[str, Form()]
_FIELDS = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security")


def _values(settings: MailboxSettings) -> dict[str, str]:
    values = {"username": settings.username}
    for name, server in (("imap", settings.imap), ("smtp", settings.smtp)):
        values.update(
            {
                f"{name}_host": server.host,
                f"{name}_port": str(server.port),
                f"{name}_security": server.security,
            }
        )
    return values


def _context(
    services: LinkServices, account_id: int, handle: str, values: dict[str, str], found_by: str
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "handle": handle,
        "values": values,
        "found_by": found_by,
        # A server without encryption only where the portal may reach this machine's own.
        "securities": [s for s in SECURITIES if s != "none" or services.context.allow_loopback],
    }


@router.get("/{account_id}/mailbox", dependencies=[Depends(calls_out)])
async def mailbox_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    account_id: int,
) -> Response:
    """The form that connects the mailbox of an email address, filled in as far as known."""
    await limiter.hit("link", str(user.id))
    offer = await mailbox.offer(db, services, user, account_id)
    account = await linking.get_account(db, user, account_id)
    values = _values(offer.settings)
    context = _context(services, account_id, account.handle, values, offer.found_by)
    return render(request, "account_mailbox", context)


def _server(name: str, values: dict[str, str]) -> MailServer:
    port_field, security_field = f"{name}_port", f"{name}_security"
    port = values[port_field].strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput("The port is a number from 1 to 65535.", field=port_field)
    security = values[security_field]
    if security not in SECURITIES:
        raise InvalidInput("Choose how the connection is encrypted.", field=security_field)
    return MailServer(values[f"{name}_host"], int(port), security)


async def _connect(
    db: DB, services: LinkServices, user: User, account_id: int, values: dict[str, str], pw: str
) -> None:
    settings = MailboxSettings(_server("imap", values), _server("smtp", values), values["username"])
    await mailbox.connect(db, services, user, account_id, settings, pw)


@router.post("/{account_id}/mailbox", dependencies=[Depends(calls_out)])
async def connect(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Services,
    limiter: LimiterDep,
    account_id: int,
    imap_host: Text = "",
    imap_port: Text = "",
    imap_security: Text = "",
    smtp_host: Text = "",
    smtp_port: Text = "",
    smtp_security: Text = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    """Check the login on both servers, then keep the mailbox's settings and password."""
    given = (imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security)
    values = {name: value[:260] for name, value in zip(_FIELDS, given, strict=True)}
    values["username"] = username[:320]
    account = await linking.get_account(db, user, account_id)
    try:
        await limiter.hit("link", str(user.id))
        await _connect(db, services, user, account_id, values, password)
    except PortalError as exc:
        context = _context(services, account_id, account.handle, values, "typed")
        return form_error(request, "account_mailbox", exc, context)
    toast(request, "Your mailbox is connected: both servers took the login.")
    return redirect(request, "/me/accounts")


@router.post("/{account_id}/mailbox/disconnect")
async def disconnect(
    request: Request, db: DB, user: CurrentUser, services: Services, account_id: int
) -> Response:
    """Forget the mailbox's settings and password; the address stays verified."""
    await mailbox.disconnect(db, services, user, account_id)
    toast(request, "Your mailbox is disconnected: its password is forgotten.")
    return redirect(request, "/me/accounts")
