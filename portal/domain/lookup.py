"""Looking a number up: what its owner lets the viewer see, at a pace no one can walk numbers.

Every lookup counts against the client's address and, when someone is signed in, against their
account (``lookup`` in :mod:`portal.ratelimit`); a lookup that finds nothing (a number nobody
has, a hidden one, a mistyped one) costs :data:`~portal.ratelimit.LOOKUP_MISS_COST` in all.
What is shown comes from :mod:`portal.domain.privacy`.

Every action on a person named by number (a contact request, accepting, blocking, tagging …)
is a lookup too: it finds the person with :func:`person_in`, counted the same way; so is
following a number, and unfollowing one (:func:`follow`, :func:`unfollow`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import contacts, privacy, relations
from portal.domain.card_cache import CardCache
from portal.domain.feeds import follows
from portal.domain.notifications import Mailer
from portal.errors import InvalidInput, NotFound, RateLimited
from portal.ratelimit import LOOKUP_MISS_COST, RateLimiter
from portal.storage.models import User

T = TypeVar("T")


async def look_up(
    session: AsyncSession,
    limiter: RateLimiter,
    viewer: User | None,
    text: str,
    *,
    client: str,
    cards: CardCache | None = None,
) -> privacy.Card:
    """The card behind a typed number as ``viewer`` may see it, once the limits allow it (kept
    in ``cards``, the application's, when given)."""
    finding = privacy.card_for_number(session, viewer, text, cards)
    return await counted(limiter, viewer, client, finding)


async def person_in(
    session: AsyncSession,
    limiter: RateLimiter,
    viewer: User,
    text: str,
    *,
    among: relations.Among,
    client: str,
) -> User:
    """The person behind a number for an action on them, once the limits allow it: among
    anyone the viewer may look up, or only among those in one relation with them (see
    :func:`portal.domain.relations.person_in`); a miss costs as much as on the lookup page."""
    return await counted(
        limiter, viewer, client, relations.person_in(session, viewer, text[:100], among)
    )


async def ask(
    session: AsyncSession,
    limiter: RateLimiter,
    sender: User,
    text: str,
    message: str = "",
    *,
    client: str,
    mailer: Mailer | None = None,
) -> contacts.Sent:
    """Ask the person behind a number to become mutual contacts (``contact_request`` in
    :mod:`portal.ratelimit`); a bad message is refused before any lookup."""
    await limiter.hit("contact_request", str(sender.id))
    await limiter.hit("contact_request", client)
    cleaned = contacts.clean_message(message)
    other = await person_in(session, limiter, sender, text, among="anyone", client=client)
    return await contacts.request(session, sender, other, cleaned, mailer=mailer)


async def follow(
    session: AsyncSession, limiter: RateLimiter, viewer: User, text: str, *, client: str
) -> follows.Followed:
    """Follow the person behind a number (:func:`portal.domain.feeds.follows.follow`), counted
    as a lookup."""
    return await counted(limiter, viewer, client, follows.follow(session, viewer, text[:100]))


async def unfollow(
    session: AsyncSession, limiter: RateLimiter, viewer: User, text: str, *, client: str
) -> None:
    """No longer follow the person behind a number, counted as a lookup."""
    await counted(limiter, viewer, client, follows.unfollow(session, viewer, text[:100]))


async def counted(
    limiter: RateLimiter, viewer: User | None, client: str, finding: Awaitable[T]
) -> T:
    """Anything that finds a person by number, counted as a lookup (``finding`` is only
    awaited once the limits allow it; a miss costs more)."""
    keys = [("address", client)]
    if viewer is not None:
        keys.append(("user", str(viewer.id)))
    try:
        for key in keys:
            await limiter.hit("lookup", *key)
    except RateLimited:
        if inspect.iscoroutine(finding):
            finding.close()  # never started
        raise
    try:
        return await finding
    except (NotFound, InvalidInput):
        for key in keys:
            # One at a time, so that a nearly spent budget is spent to the end.
            with contextlib.suppress(RateLimited):
                for _ in range(LOOKUP_MISS_COST - 1):
                    await limiter.hit("lookup", *key)
        raise
