"""Links sent by email: confirming the address given at sign-up, choosing a new password when
the old one is lost, and moving an account to a new address.

A link carries a random secret; only its SHA-256 is stored (:class:`EmailLink`), with its
purpose, the address it was sent to, and its expiry. It works once: using it stamps
``used_at`` in the same statement that checks it was unused, so two uses at the same moment
cannot both succeed. A link for one purpose is refused for another.

Nobody learns from these forms whether an address has an account. Signing up with an address
that has one answers exactly as a new sign-up does, and its owner gets an email saying someone
tried; asking for a new password answers the same for any address. Emails go out after the
request's transaction commits, in the background, so neither a slow mail server nor the
sending itself shows in the time of the answer.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import letters
from portal.domain import account, notifications
from portal.domain import number as numbers
from portal.domain.notifications import Mailer
from portal.domain.text import clean_email
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import ApiToken, EmailLink, User, WebSession, utcnow

log = logging.getLogger(__name__)

CONFIRM = "confirm"
RESET = "reset"
CHANGE = "change"
LIFETIMES = {
    CONFIRM: timedelta(hours=48),
    RESET: timedelta(minutes=30),
    CHANGE: timedelta(hours=24),
}
PATHS = {CONFIRM: "/email/confirm", RESET: "/password/reset", CHANGE: "/email/confirm"}
"""Where each link opens, on the portal's base URL, with ``?token=<secret>``."""

BAD_LINK = N_("This link is not valid: it was already used, it expired, or it was mistyped.")
_MAX_TOKEN = 100


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- emails, sent once the transaction commits ------------------------------------------------


def _post(
    session: AsyncSession, mailer: Mailer, to: str, kind: str, language: str, **context: Any
) -> None:
    """Send the letter ``kind`` in ``language``: the reader's stored one when they chose one,
    else the language of the request that made it."""
    subject, text = letters.write(kind, language, base_url=mailer.base_url, **context)
    notifications.send_after_commit(session, mailer, to, subject, text)


# --- the links ---------------------------------------------------------------------------------


async def _issue(
    session: AsyncSession, user: User, purpose: str, address: str, mailer: Mailer
) -> tuple[str, timedelta]:
    """A new link for ``purpose``; the earlier unused ones of the same purpose stop working."""
    await session.execute(
        delete(EmailLink).where(
            EmailLink.user_id == user.id,
            EmailLink.purpose == purpose,
            EmailLink.used_at.is_(None),
        )
    )
    secret = secrets.token_urlsafe(32)
    lifetime = LIFETIMES[purpose]
    session.add(
        EmailLink(
            purpose=purpose,
            user_id=user.id,
            digest=_digest(secret),
            new_email=address,
            expires_at=utcnow() + lifetime,
        )
    )
    await session.flush()
    return f"{mailer.base_url}{PATHS[purpose]}?token={secret}", lifetime


async def _valid(session: AsyncSession, token: str, purposes: tuple[str, ...]) -> EmailLink:
    if not token or len(token) > _MAX_TOKEN:
        raise NotFound(BAD_LINK)
    link = await session.scalar(select(EmailLink).where(EmailLink.digest == _digest(token)))
    if (
        link is None
        or link.purpose not in purposes
        or link.used_at is not None
        or link.expires_at <= utcnow()
    ):
        raise NotFound(BAD_LINK)
    return link


@dataclass(frozen=True)
class LinkInfo:
    purpose: str
    address: str


async def check_link(session: AsyncSession, token: str, purposes: tuple[str, ...]) -> LinkInfo:
    """What a link is for, without using it (the page a link opens shows a button to use it)."""
    link = await _valid(session, token, purposes)
    return LinkInfo(link.purpose, link.new_email or "")


async def _use(session: AsyncSession, token: str, purposes: tuple[str, ...]) -> EmailLink:
    """Spend a link: only one of two uses at the same moment gets through."""
    return await _spend(session, await _valid(session, token, purposes))


async def _spend(session: AsyncSession, link: EmailLink) -> EmailLink:
    now = utcnow()
    result = await session.execute(
        update(EmailLink)
        .where(EmailLink.id == link.id, EmailLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise NotFound(BAD_LINK)
    link.used_at = now
    return link


# --- sign-up and confirming the address --------------------------------------------------------


async def sign_up(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    policy: numbers.AllocationPolicy,
    mailer: Mailer,
    language: str,
    then: str = "",
) -> User | None:
    """Create an account and mail a link that confirms its address.

    When the address already has an account, nothing is created (``None``): its owner gets an
    email saying someone tried, and the caller answers exactly as for a new account. ``then``
    is a local path (an invitation) the confirmation continues to; the link carries it.
    """
    try:
        async with session.begin_nested():
            user = await account.sign_up(
                session,
                email=email,
                password=password,
                display_name=display_name,
                policy=policy,
            )
    except Conflict as exc:
        if exc.field != "email":
            raise
        address = clean_email(email)
        await account.hash_password(password)  # the same work as a new account's password
        owner = await session.scalar(select(User).where(User.email == address))
        if owner is not None:
            _post(session, mailer, owner.email, "signup_exists", owner.language or language)
        return None
    link, lifetime = await _issue(session, user, CONFIRM, user.email, mailer)
    if then:
        link += "&" + urlencode({"next": then})
    _post(session, mailer, user.email, CONFIRM, language, link=link, hours=_hours(lifetime))
    return user


def _hours(lifetime: timedelta) -> int:
    return int(lifetime.total_seconds() // 3600)


async def mark_confirmed(session: AsyncSession, user: User) -> None:
    """Count the address as confirmed without a link (an account an operator made)."""
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    await session.flush()


async def resend_confirmation(
    session: AsyncSession, user: User, *, mailer: Mailer, language: str
) -> None:
    """Mail a new confirmation link to my address; the earlier one stops working."""
    if user.email_confirmed_at is not None:
        raise InvalidInput("Your email address is already confirmed.")
    language = user.language or language
    link, lifetime = await _issue(session, user, CONFIRM, user.email, mailer)
    _post(session, mailer, user.email, CONFIRM, language, link=link, hours=_hours(lifetime))


@dataclass(frozen=True)
class Confirmed:
    user: User
    purpose: str
    """``confirm`` (a new account's address) or ``change`` (a new address for an account)."""


async def confirm_email(session: AsyncSession, token: str) -> Confirmed:
    """Use a confirmation link: the address is confirmed, or becomes the account's new one."""
    link = await _use(session, token, (CONFIRM, CHANGE))
    user = await session.get(User, link.user_id)
    if user is None:
        raise NotFound(BAD_LINK)
    address = link.new_email or ""
    now = utcnow()
    if link.purpose == CONFIRM:
        if address != user.email:  # the account moved to another address since
            raise NotFound(BAD_LINK)
        user.email_confirmed_at = user.email_confirmed_at or now
        await session.flush()
        return Confirmed(user, CONFIRM)
    taken = await session.scalar(select(User.id).where(User.email == address, User.id != user.id))
    if taken is not None:
        raise Conflict("This address now belongs to another account.", field="email")
    user.email = address
    user.email_confirmed_at = now
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("This address now belongs to another account.", field="email") from None
    # Links mailed to the old address (a new password, a confirmation) no longer work.
    await account.forget_mailed_links(session, user)
    await session.flush()
    return Confirmed(user, CHANGE)


# --- a forgotten password ------------------------------------------------------------------------


async def request_password_reset(
    session: AsyncSession, *, email: str, mailer: Mailer, language: str
) -> None:
    """Mail a link for choosing a new password, if the address has an account; the caller
    answers the same either way. Only what is not an email address at all is refused: that
    tells nothing about accounts."""
    address = clean_email(email)
    user = await session.scalar(select(User).where(User.email == address))
    if user is None:
        return
    link, lifetime = await _issue(session, user, RESET, user.email, mailer)
    minutes = int(lifetime.total_seconds() // 60)
    language = user.language or language  # the owner reads it, in the language they chose
    _post(session, mailer, user.email, RESET, language, link=link, minutes=minutes)


async def reset_password(
    session: AsyncSession, *, token: str, new_password: str, revoke_tokens: bool
) -> User:
    """Use a reset link: set the new password and sign out every browser; with
    ``revoke_tokens``, every personal access token stops working too."""
    link = await _valid(session, token, (RESET,))
    user = await session.get(User, link.user_id)
    if user is None or link.new_email != user.email:
        raise NotFound(BAD_LINK)
    account.check_password_policy(new_password, email=user.email)
    await _spend(session, link)
    user.password_hash = await account.hash_password(new_password)
    # The link came to this address, so the address is the owner's.
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    if revoke_tokens:
        await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    await account.forget_mailed_links(session, user)
    await session.flush()
    return user


# --- a new address -------------------------------------------------------------------------------


async def request_email_change(
    session: AsyncSession,
    user: User,
    *,
    new_email: str,
    password: str,
    mailer: Mailer,
    language: str,
) -> str:
    """Mail a link to the new address and a notice to the old one; the account keeps its
    address until the link is opened. Answers the same whether or not the new address has an
    account (its owner is told someone tried). Returns the cleaned new address."""
    try:
        address = clean_email(new_email)
    except InvalidInput as exc:
        exc.field = "new_email"
        raise
    if not await account.verify_password(user.password_hash, password):
        raise InvalidInput("Your password is wrong.", field="password")
    if address == user.email:
        raise InvalidInput("This is already your email address.", field="new_email")
    language = user.language or language
    # The old address is told in every case, so that its mail says nothing of the new one.
    _post(session, mailer, user.email, "change_notice", language, new_email=address)
    taken = await session.scalar(select(User.id).where(User.email == address))
    if taken is not None:
        _post(session, mailer, address, "change_taken", language)
        return address
    link, lifetime = await _issue(session, user, CHANGE, address, mailer)
    _post(session, mailer, address, CHANGE, language, link=link, hours=_hours(lifetime))
    return address
