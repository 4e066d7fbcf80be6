"""The mailbox behind a verified email address: its IMAP and SMTP settings and password.

A code proves that an address is its owner's; sending from it and reading the answers in it
takes the person's own mailbox, as any mail client does (:mod:`connectors._mailbox`). The
settings are offered from the domain's autoconfig file where it has one, else guessed for the
person to correct; nothing is kept until both servers took the login. Settings and password
are kept encrypted with the account's credentials (``Credentials.extra``), as an XMPP
password is, so no column of their own is needed and the database never holds them in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors._autoconfig import autoconfig, autoconfig_urls, guess
from connectors._mailbox import MailboxFailure, MailboxSettings, check_login, kept, unkept
from portal.db import write_next
from portal.domain import linking
from portal.domain.linking.proofs import MAX_SECRET
from portal.domain.linking.services import LinkServices
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import LinkedAccount, User

__all__ = [
    "Offer",
    "connect",
    "connected",
    "disconnect",
    "offer",
]

_MESSAGES = {
    "login": N_("The %(server)s server refused this login name or password."),
    "unreachable": N_(
        "The %(server)s server %(host)s cannot be reached on port %(port)d: check the host "
        "and the port, or try again in a moment."
    ),
    "tls": N_(
        "No secure connection could be made with the %(server)s server %(host)s: check the "
        "port and the encryption (SSL/TLS or STARTTLS)."
    ),
    "plaintext": N_(
        "The %(server)s server does not take a password without encryption: choose SSL/TLS "
        "or STARTTLS."
    ),
    "private": N_(
        "%(host)s is a private address, which Portal does not connect to: give your mail "
        "provider's server."
    ),
    "insecure": N_(
        "Without encryption the password would travel in clear: choose SSL/TLS or STARTTLS."
    ),
    "protocol": N_(
        "%(host)s did not answer as an %(server)s server on port %(port)d: check the host "
        "and the port."
    ),
}


@dataclass(frozen=True)
class Offer:
    """The settings to show in the form, and where they come from."""

    settings: MailboxSettings
    found_by: Literal["saved", "autoconfig", "guess"]


def connected(account: LinkedAccount) -> bool:
    """Whether the account is an email address with its mailbox connected. Addresses proven
    by a code keep no credentials, so whatever they hold is the mailbox."""
    return account.network == "email" and account.secrets is not None


async def _email_account(session: AsyncSession, user: User, account_id: int) -> LinkedAccount:
    account = await linking.get_account(session, user, account_id)
    if account.network != "email":
        raise NotFound("Only an email address has a mailbox to connect.")
    return account


def _saved(services: LinkServices, account: LinkedAccount) -> tuple[MailboxSettings, str] | None:
    credentials = linking.load_credentials(services, account)
    return None if credentials is None else unkept(credentials.extra)


async def offer(
    session: AsyncSession, services: LinkServices, user: User, account_id: int
) -> Offer:
    """The settings connected now; else those the address's domain publishes; else guesses."""
    account = await _email_account(session, user, account_id)
    saved = _saved(services, account)
    if saved is not None:
        return Offer(saved[0], "saved")
    async with services.http() as http:
        found = await autoconfig(account.handle, http, autoconfig_urls(account.handle))
    if found is not None:
        return Offer(found, "autoconfig")
    return Offer(guess(account.handle), "guess")


def _refusal(failure: MailboxFailure, settings: MailboxSettings) -> InvalidInput:
    if failure.kind == "invalid":
        # Said by the connector, about one field: a host name, a port, the login name.
        return InvalidInput(failure.message, field=failure.field)
    server = settings.imap if failure.protocol == "imap" else settings.smtp
    return InvalidInput(
        _MESSAGES[failure.kind],
        field=failure.field,
        server=failure.protocol.upper(),
        host=server.host,
        port=server.port,
    )


async def connect(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    account_id: int,
    settings: MailboxSettings,
    password: str,
) -> LinkedAccount:
    """Check the login on both servers, then keep settings and password encrypted. An empty
    password keeps the one saved, so that a changed port does not need it typed again."""
    account = await _email_account(session, user, account_id)
    if not _proven(account):
        raise Conflict(
            "Verify this address with its code first: only your own address's mailbox can "
            "be connected."
        )
    saved = _saved(services, account)
    if not password and saved is not None:
        password = saved[1]
    if not password:
        raise InvalidInput("Enter the password of the mailbox.", field="password")
    if len(password) > MAX_SECRET or "\x00" in password:
        raise InvalidInput("This password cannot be right.", field="password")
    try:
        settings = settings.checked(context=services.context)
        await check_login(settings, password, context=services.context)
    except MailboxFailure as failure:
        raise _refusal(failure, settings) from failure
    await write_next(session)
    linking.store_credentials(
        services,
        account,
        base.Credentials(extra=kept(settings, password)),
    )
    account.status, account.problem = linking.VERIFIED, ""
    await session.flush()
    return account


async def disconnect(
    session: AsyncSession, services: LinkServices, user: User, account_id: int
) -> LinkedAccount:
    """Forget the mailbox's settings and password; the address stays linked and verified."""
    account = await _email_account(session, user, account_id)
    linking.store_credentials(services, account, None)
    if _proven(account):
        account.status, account.problem = linking.VERIFIED, ""
    await session.flush()
    return account


def _proven(account: LinkedAccount) -> bool:
    """The address is its owner's: verified, or proven once and waiting only for its mailbox
    to be connected again (a password the mailbox no longer takes, found while sending or
    reading, asks for that; the address itself is still proven)."""
    return account.status == linking.VERIFIED or (
        account.status == linking.NEEDS_RECONNECT and bool(account.verified_by)
    )
