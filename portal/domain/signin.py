"""Signing in with an email and a password, under limits that a stranger cannot turn against
the owner.

Attempts are counted on the email's one form (:func:`portal.domain.text.email_key`), so that
look-alike spellings of an address are one address. They are limited tightly per email and
client address: someone guessing from one address is stopped there, while the owner, signing
in from another, is not. They are limited loosely per email, which still bounds guessing from
many addresses at once, and per client address whatever the email. When wrong passwords for
an account pile up, its owner gets one email saying so (the ``signin_warning`` rule sets how
often at most); the email goes out even though the failed request itself changes nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import i18n, letters
from portal.domain import account, notifications
from portal.domain.notifications import Mailer
from portal.domain.text import email_key
from portal.errors import NotAuthenticated
from portal.ratelimit import RateLimiter
from portal.storage.models import User

log = logging.getLogger(__name__)

WARNING_LETTER = "signin_guessing"


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    address: str,
    limiter: RateLimiter,
    mailer: Mailer | None = None,
) -> User:
    """The account of these credentials, typed from the client ``address``; raises
    :class:`RateLimited` past the limits and :class:`NotAuthenticated` for wrong ones."""
    key = email_key(email)
    await limiter.hit("signin_address", address)
    await limiter.hit("signin_pair", key, address)
    await limiter.hit("signin_email", key)
    try:
        return await account.authenticate(session, email=email, password=password)
    except NotAuthenticated:
        await _wrong_password(session, key, limiter=limiter, mailer=mailer)
        raise


async def _wrong_password(
    session: AsyncSession, key: str, *, limiter: RateLimiter, mailer: Mailer | None
) -> None:
    """Count a wrong password for ``key``; past a few, tell the owner, at most so often."""
    if await limiter.admit("signin_failures", key):
        return
    if not await limiter.admit("signin_warning", key):
        return
    owner = await session.scalar(select(User).where(User.email == key))
    if owner is None:
        return
    log.warning("repeated wrong passwords for %s; its owner is told", owner.email)
    if mailer is None:
        return
    subject, text = letters.write(
        WARNING_LETTER, owner.language or i18n.DEFAULT, base_url=mailer.base_url, email=owner.email
    )
    notifications.send_soon(mailer, owner.email, subject, text)
