"""Reading one's unified feed outside the portal's pages: a private address and a Fever key.

- **The private address** (``/feeds/<secret>.atom`` and ``.json``) is for any reader app that
  follows a URL. The secret is shown once when it is made; the portal keeps its SHA-256 only,
  so a copy of the database does not open anyone's feed. Making a new one ends the old one.
- **The Fever API** (https://feedafever.com/api) is what reader apps such as Reeder, ReadKit,
  Unread, Fiery Feeds and NetNewsWire's Fever accounts speak. A Fever app signs in with
  ``api_key`` = MD5 of ``username:password``; here the username is the person's portal
  number (it never changes, unlike an email address) and the password is one they set for
  Fever alone, never their account's. The portal keeps the SHA-256 of the key.

Both are looked up by their hash in one indexed query, and both end when the person says so
(:func:`forget_feed_token`, :func:`forget_fever_password`).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import N_, InvalidInput
from portal.storage.models import User

FEVER_PASSWORD_LENGTH = 12
FEVER_PASSWORD_MAX = 200
_FEVER_KEY = re.compile(r"[0-9a-fA-F]{32}")
_FEED_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def new_feed_token(session: AsyncSession, user: User) -> str:
    """A new private address for ``user``'s feed (the secret in it); the old one stops."""
    secret = secrets.token_urlsafe(32)
    user.feed_token_hash = _hash(secret)
    await session.flush()
    return secret


def forget_feed_token(user: User) -> None:
    user.feed_token_hash = None


async def user_for_feed_token(session: AsyncSession, secret: str) -> User | None:
    """The person whose private feed address holds ``secret``; None for anything else."""
    if not _FEED_TOKEN.fullmatch(secret):
        return None
    found: User | None = await session.scalar(
        select(User).where(User.feed_token_hash == _hash(secret))
    )
    return found


def fever_key(number: str, password: str) -> str:
    """The key a Fever app sends for the username ``number`` and ``password``."""
    return hashlib.md5(f"{number}:{password}".encode(), usedforsecurity=False).hexdigest()


async def set_fever_password(session: AsyncSession, user: User, password: str) -> None:
    """Let Fever apps sign in as ``user`` with ``password`` (and the number as username)."""
    if len(password) < FEVER_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("A Fever password has at least %(length)s characters."),
            field="password",
            length=FEVER_PASSWORD_LENGTH,
        )
    if len(password) > FEVER_PASSWORD_MAX:
        raise InvalidInput(N_("This password is too long."), field="password")
    try:
        key = fever_key(user.number, password)
    except UnicodeEncodeError as error:  # a lone surrogate, which no app could send back
        raise InvalidInput(
            N_("This password has characters that cannot be used."), field="password"
        ) from error
    user.fever_key_hash = _hash(key)
    await session.flush()


def forget_fever_password(user: User) -> None:
    user.fever_key_hash = None


async def user_for_fever_key(session: AsyncSession, api_key: str) -> User | None:
    """The person a Fever app signs in as with ``api_key``; None if it opens no account."""
    if not _FEVER_KEY.fullmatch(api_key):
        return None
    found: User | None = await session.scalar(
        select(User).where(User.fever_key_hash == _hash(api_key.lower()))
    )
    return found
