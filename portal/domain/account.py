"""Accounts: sign-up with a fresh portal number, sign-in, sessions, API tokens, deletion."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import number as numbers
from portal.domain.text import clean_email, clean_name
from portal.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from portal.storage.models import (
    MAX_ID,
    ApiToken,
    EmailLink,
    PortalNumber,
    User,
    WebSession,
    utcnow,
)

# argon2id with the RFC 9106 "second recommended" parameters (64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified against when the email is unknown, so that both cases cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "portal_"  # noqa: S105 - a public prefix, not a secret
log = logging.getLogger(__name__)

_TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """Length only, as NIST SP 800-63B advises, plus the obvious: not the email itself."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            "Choose a password of at least %(min)d characters.", field="password", min=MIN_PASSWORD
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(
            "A password has at most %(max)d characters.", field="password", max=MAX_PASSWORD
        )
    if "\x00" in password:
        raise InvalidInput("A password cannot contain a NUL character.", field="password")
    if email and password.strip().lower() == email.lower():
        raise InvalidInput("Your password cannot be your email address.", field="password")


async def _count_numbers(session: AsyncSession, length: int) -> int:
    stmt = select(func.count()).select_from(PortalNumber).where(PortalNumber.length == length)
    return (await session.execute(stmt)).scalar_one()


async def allocate_number(
    session: AsyncSession,
    policy: numbers.AllocationPolicy,
    rng: numbers.RandomSource = numbers.SYSTEM_RANDOM,
) -> str:
    """Claim a fresh number in the database; the primary key settles races between processes."""

    async def used(length: int) -> int:
        return await _count_numbers(session, length)

    async def claim(candidate: str) -> bool:
        try:
            async with session.begin_nested():
                await session.execute(
                    insert(PortalNumber).values(
                        number=candidate, length=len(candidate), allocated_at=utcnow()
                    )
                )
        except IntegrityError:
            return False
        return True

    return await numbers.allocate(policy, used, claim, rng)


async def sign_up(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    policy: numbers.AllocationPolicy,
) -> User:
    """Create an account and give it a new portal number."""
    email = clean_email(email)
    display_name = clean_name(display_name)
    check_password_policy(password, email=email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            "An account with this email address already exists. Sign in instead.", field="email"
        )
    number = await allocate_number(session, policy)
    user = User(
        email=email,
        number=number,
        password_hash=await hash_password(password),
        display_name=display_name,
        bio="",
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        # Another sign-up with the same email won the race.
        raise Conflict(
            "An account with this email address already exists. Sign in instead.", field="email"
        ) from None
    return user


async def with_email(session: AsyncSession, email: str) -> User:
    """The account of ``email`` (for the operator's commands); :class:`NotFound` if none."""
    found: User | None = await session.scalar(select(User).where(User.email == clean_email(email)))
    if found is None:
        raise NotFound("There is no account with this email address.")
    return found


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """The user with these credentials; the same error and about the same time otherwise."""
    failure = NotAuthenticated("The email address or the password is wrong.")
    try:
        email = clean_email(email)
    except InvalidInput:
        await verify_password(_DUMMY_HASH, password[:MAX_PASSWORD])
        raise failure from None
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or len(password) > MAX_PASSWORD:
        await verify_password(_DUMMY_HASH, password[:MAX_PASSWORD])
        raise failure
    if not await verify_password(user.password_hash, password):
        raise failure
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """The argon2id hash of a password, made off the event loop: a hash takes about 0.2 s of
    one core (with the GIL released), which no other request should wait for."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``, checked off the event loop."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def change_password(
    session: AsyncSession,
    user: User,
    *,
    current: str,
    new: str,
    keep_session: str | None,
    revoke_tokens: bool = False,
) -> None:
    """Set a new password and sign out every other browser; with ``revoke_tokens``, every
    personal access token stops working too."""
    if not await verify_password(user.password_hash, current):
        raise InvalidInput("Your current password is wrong.", field="current_password")
    check_password_policy(new, email=user.email)
    user.password_hash = await hash_password(new)
    stmt = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_session is not None:
        stmt = stmt.where(WebSession.id_hash != _digest(keep_session))
    await session.execute(stmt)
    if revoke_tokens:
        await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    await forget_mailed_links(session, user)
    await session.flush()


async def forget_mailed_links(session: AsyncSession, user: User) -> None:
    """Links mailed to the account and not yet used stop working: after a new password (so
    that an email change asked by whoever knew the old one cannot complete) or a new address."""
    await session.execute(
        delete(EmailLink).where(EmailLink.user_id == user.id, EmailLink.used_at.is_(None))
    )


async def delete_account(session: AsyncSession, user: User, *, password: str) -> None:
    """Delete the account and everything it owns; its number is retired, never reused."""
    if not await verify_password(user.password_hash, password):
        raise InvalidInput("Your password is wrong.", field="password")
    await session.execute(
        update(PortalNumber).where(PortalNumber.number == user.number).values(retired_at=utcnow())
    )
    await session.execute(delete(User).where(User.id == user.id))
    await session.flush()


# --- Browser sessions -------------------------------------------------------------------


async def start_session(
    session: AsyncSession, user: User, *, days: int, user_agent: str = ""
) -> str:
    """Open a browser session and return the secret for its cookie."""
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_digest(secret),
            user_id=user.id,
            expires_at=utcnow() + timedelta(days=days),
            user_agent=user_agent[:200],
        )
    )
    await session.flush()
    return secret


async def user_for_session(session: AsyncSession, secret: str) -> User | None:
    stmt = (
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id_hash == _digest(secret), WebSession.expires_at > utcnow())
    )
    return await session.scalar(stmt)


async def end_session(session: AsyncSession, secret: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == _digest(secret)))
    await session.flush()


# --- Personal access tokens ------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


async def create_token(
    session: AsyncSession, user: User, *, name: str, expires_in_days: int | None = None
) -> NewToken:
    """A new personal access token; its secret is returned once and stored only hashed."""
    name = clean_name(name, field="name", max_length=100)
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("A token lasts between 1 and 3650 days.", field="expires_in_days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(secret),
        hint=secret[-4:],
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    return NewToken(token=token, secret=secret)


async def list_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list((await session.scalars(stmt)).all())


async def revoke_token(session: AsyncSession, user: User, token_id: int) -> None:
    if not 1 <= token_id <= MAX_ID:
        raise NotFound("There is no such token.")
    result = await session.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("There is no such token.")
    await session.flush()


async def user_for_token(session: AsyncSession, secret: str) -> User | None:
    """The owner of a valid token; records when it was last used, at most every few minutes."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    now = utcnow()
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == _digest(secret))
        )
    ).first()
    if row is None:
        return None
    token, user = row
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > _TOKEN_TOUCH_INTERVAL:
        await _touch(session, token, now)
    return user


async def _touch(session: AsyncSession, token: ApiToken, now: datetime) -> None:
    """Record when ``token`` was used, if the database lets this request write now: a read
    (a GET) that turns into a write fails on SQLite when another request committed since it
    began, and when it was last used is not worth failing the request over; a later use
    records it."""
    touch = update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
    try:
        async with session.begin_nested():
            await session.execute(touch)
    except OperationalError:
        log.info("token %s used, not recorded: the database is busy", token.id)
