"""The public feed of each linked account: what its followers read of it.

Each connector says where an account's public posts can be read
(:meth:`connectors.base.Connector.public_feed`); this module keeps
``LinkedAccount.feed_source_id`` pointing at that address's shared :class:`FeedSource`
whenever an account is linked, proven again or given another handle, and clears it when
the new handle has no feed. Nothing is fetched while a person links: a new source is made due
at once (``next_poll_at`` now), and the poller reads it; a website's page is turned into the
feed it names at that first poll (:func:`.store.poll`). Unlinking deletes the account, and
with it what pointed at the source; a source nobody reads any more is removed.

Whether a follower may read the feed is never decided here: it is decided when they read
(:func:`.follows.visible_sources`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from connectors import base
from portal.domain.feeds.fetch import FetchError, check_url
from portal.domain.feeds.store import MAX_URL, source_at
from portal.storage.models import FeedSource, FeedSubscription, LinkedAccount, utcnow


def address_of(account: LinkedAccount, known: Mapping[str, Any] | None = None) -> str | None:
    """Where the account's public posts are read, when its network has such a place and the
    address is one the fetcher would fetch; else ``None``."""
    cls = connectors.get(account.network)
    if cls is None:
        return None
    try:
        url = cls.public_feed(account.handle, account.server, known=known)
        checked = check_url(url) if url else None
    except (base.ConnectorError, FetchError, ValueError):
        return None
    return checked if checked and len(checked) <= MAX_URL else None


async def shared_source(
    session: AsyncSession, url: str, now: datetime, title: str = ""
) -> FeedSource:
    """The one source of ``url``, made due at once when it is new, named ``title`` until its
    feed names itself."""
    source = await source_at(session, url)
    if source is None:
        try:
            async with session.begin_nested():
                source = FeedSource(url=url, next_poll_at=now, title=title[:500])
                session.add(source)
        except IntegrityError:  # made meanwhile by another request: share that one
            found = await source_at(session, url)
            if found is None:
                raise
            source = found
    return source


async def set_feed(
    session: AsyncSession,
    account: LinkedAccount,
    *,
    known: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> FeedSource | None:
    """Point the account at its public feed's source, or at none; a source it leaves that
    nobody else reads any more is removed. ``known`` is what the account's proof kept."""
    url = address_of(account, known)
    before = account.feed_source_id
    source = None
    if url is not None:
        source = await shared_source(session, url, now or utcnow(), account_name(account))
    account.feed_source_id = source.id if source is not None else None
    await session.flush()
    if before is not None and before != account.feed_source_id:
        await forget_if_unread(session, before)
    return source


def account_name(account: LinkedAccount) -> str:
    """The account as people know it (``Bluesky @ada.bsky.social``)."""
    cls = connectors.get(account.network)
    return f"{cls.LABEL} {cls.display_handle(account.handle)}" if cls else account.handle


async def forget_if_unread(session: AsyncSession, source_id: int) -> None:
    """Remove a source no account and no subscription reads."""
    read = await session.scalar(
        select(
            exists().where(LinkedAccount.feed_source_id == source_id)
            | exists().where(FeedSubscription.source_id == source_id)
        )
    )
    if not read:
        source = await session.get(FeedSource, source_id)
        if source is not None:
            await session.delete(source)
            await session.flush()


async def fill_missing(
    session: AsyncSession,
    known_of: Callable[[LinkedAccount], Mapping[str, Any] | None],
    *,
    batch: int = 500,
) -> int:
    """Point every account linked before feeds were kept (or whose feed was lost) at its
    feed, ``known_of`` giving what each one's proof kept; how many now have one. For an
    operator's command: it reads every account without a feed, in batches."""
    done = 0
    after = 0
    while True:
        rows = await session.scalars(
            select(LinkedAccount)
            .where(LinkedAccount.feed_source_id.is_(None), LinkedAccount.id > after)
            .order_by(LinkedAccount.id)
            .limit(batch)
        )
        accounts = list(rows)
        if not accounts:
            return done
        for account in accounts:
            if await set_feed(session, account, known=known_of(account)) is not None:
                done += 1
        after = accounts[-1].id
