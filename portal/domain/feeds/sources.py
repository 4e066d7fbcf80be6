"""A reader's own feeds: the list with each one's health, a name and a folder of their own,
unsubscribing, refreshing one now, and OPML in and out.

A source is named by its id everywhere; a source the reader does not subscribe to answers
exactly as one that does not exist (:data:`NO_SOURCE`), so ids tell nothing about what others
read. A source left with no subscriber and no linked account pointing at it is deleted with its
entries. Refreshing polls through :func:`portal.domain.feeds.store.poll`, the poller's own
function; the caller ends its transaction before, so that none stays open while the feed's
server answers. An OPML import fetches nothing: it makes the sources that are new, due at once,
for the poller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain.feeds import accounts, opml, store
from portal.domain.feeds.read import printable
from portal.errors import N_, InvalidInput, NotFound
from portal.net import GuardedClient
from portal.storage.models import FeedSource, FeedSubscription, User, utcnow

NO_SOURCE = N_("There is no such source among the feeds you follow.")
MAX_TITLE = 500
MAX_FOLDER = 100
MAX_URL = store.MAX_URL
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Health:
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    """A message id, translated where it is shown, its parameters in ``error_params``."""
    error_params: dict[str, object]
    failures: int
    next_poll_at: datetime
    paused: bool


@dataclass(frozen=True, slots=True)
class Subscribed:
    source_id: int
    url: str
    title: str
    """The reader's own title, else the feed's."""
    own_title: str
    feed_title: str
    folder: str
    site_url: str | None
    kind: str
    subscribed_at: datetime
    health: Health
    network: str = "feed"
    """``feed``, or the network of one's own timeline there (a Mastodon home, Bluesky)."""
    private: bool = False
    """One's own timeline, read with a linked account: its address is no web address."""


def _health(source: FeedSource) -> Health:
    params: dict[str, object] = {}
    if source.last_error_params:
        try:
            loaded = json.loads(source.last_error_params)
        except ValueError:
            loaded = None
        params = loaded if isinstance(loaded, dict) else {}
    return Health(
        last_polled_at=source.last_polled_at,
        last_success_at=source.last_success_at,
        last_error=source.last_error,
        error_params=params,
        failures=source.failures,
        next_poll_at=source.next_poll_at,
        paused=source.paused_at is not None,
    )


def _subscribed(subscription: FeedSubscription, source: FeedSource) -> Subscribed:
    return Subscribed(
        source_id=source.id,
        url=source.url,
        title=subscription.title or source.title,
        own_title=subscription.title,
        feed_title=source.title,
        folder=subscription.folder,
        site_url=source.site_url,
        kind=source.kind,
        subscribed_at=subscription.created_at,
        health=_health(source),
        network=subscription.network or "feed",
        private=source.account_id is not None,
    )


async def list_sources(session: AsyncSession, viewer: User) -> list[Subscribed]:
    """The feeds ``viewer`` subscribes to, by folder then title: one query."""
    rows = await session.execute(
        select(FeedSubscription, FeedSource)
        .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
        .where(FeedSubscription.user_id == viewer.id)
    )
    found = [_subscribed(sub, source) for sub, source in rows]
    return sorted(found, key=lambda s: (s.folder.casefold(), s.title.casefold(), s.source_id))


async def own(
    session: AsyncSession, viewer: User, source_id: int
) -> tuple[FeedSubscription, FeedSource]:
    """``viewer``'s subscription to a source and the source; :class:`NotFound` for any id they
    do not subscribe to."""
    row = (
        await session.execute(
            select(FeedSubscription, FeedSource)
            .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
            .where(FeedSubscription.user_id == viewer.id, FeedSubscription.source_id == source_id)
        )
    ).first()
    if row is None:
        raise NotFound(NO_SOURCE)  # whether nobody or only others follow it
    return row[0], row[1]


async def get_source(session: AsyncSession, viewer: User, source_id: int) -> Subscribed:
    """One of ``viewer``'s feeds; any other id is :class:`NotFound`, the same for all."""
    return _subscribed(*await own(session, viewer, source_id))


async def subscribe(
    session: AsyncSession, viewer: User, typed: str, *, http: GuardedClient, folder: str = ""
) -> Subscribed:
    """Follow the feed at what the reader typed (see :func:`store.subscribe`)."""
    subscription = await store.subscribe(
        session, viewer, typed.strip(), http=http, folder=_folder(folder)
    )
    return await get_source(session, viewer, subscription.source_id)


def _words(text: str) -> str:
    return " ".join((printable(text) or "").split())


def _folder(folder: str) -> str:
    cleaned = _words(folder)
    if len(cleaned) > MAX_FOLDER:
        raise InvalidInput(
            "A folder's name has at most %(max)d characters.", field="folder", max=MAX_FOLDER
        )
    return cleaned


async def update_source(
    session: AsyncSession,
    viewer: User,
    source_id: int,
    *,
    title: str | None = None,
    folder: str | None = None,
) -> Subscribed:
    """Give one of the reader's feeds a title of their own (empty: the feed's) or a folder
    (empty: none); what is left ``None`` stays."""
    subscription, source = await own(session, viewer, source_id)
    if title is not None:
        cleaned = _words(title)
        if len(cleaned) > MAX_TITLE:
            raise InvalidInput(
                "A title has at most %(max)d characters.", field="title", max=MAX_TITLE
            )
        subscription.title = cleaned
    if folder is not None:
        subscription.folder = _folder(folder)
    await session.flush()
    return _subscribed(subscription, source)


async def unsubscribe(session: AsyncSession, viewer: User, source_id: int) -> None:
    """Stop reading a feed; a feed nobody reads any more, and that no linked account names,
    is deleted with its entries."""
    subscription, source = await own(session, viewer, source_id)
    await session.delete(subscription)
    await session.flush()
    await accounts.forget_if_unread(session, source.id)


async def refresh(
    session: AsyncSession,
    found: tuple[FeedSubscription, FeedSource],
    *,
    http: GuardedClient,
) -> Subscribed:
    """Poll one of the reader's feeds (found by :func:`own`) now, a paused one too; its health
    says how it went. The caller may end its transaction between the two: the fetch happens
    before anything is read or written, so that none stays open while the server answers."""
    subscription, source = found
    await store.poll(session, source, http)
    await session.flush()
    return _subscribed(subscription, source)


# --- OPML -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    already: int
    """Feeds of the list the reader follows already."""
    unreadable: int
    """Outlines whose address cannot be followed."""


async def export_opml(session: AsyncSession, viewer: User, *, title: str) -> bytes:
    """The reader's feeds as an OPML 2.0 list, in folders (their own timelines, which have no
    address another reader could follow, left out); written in a thread."""
    return await asyncio.to_thread(opml.write, title, await store.outlines(session, viewer))


async def import_opml(
    session: AsyncSession, viewer: User, document: bytes, *, now: datetime | None = None
) -> ImportReport:
    """Follow every feed of an OPML list (read in a thread): see :func:`import_outlines`."""
    imported = await asyncio.to_thread(opml.read, document)
    return await import_outlines(session, viewer, imported, now=now)


async def import_outlines(
    session: AsyncSession,
    viewer: User,
    imported: opml.Imported,
    *,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Follow every feed of a read OPML list without fetching any, :data:`_CHUNK` at a time
    (``progress`` is told how many of how many are done): a source new to this portal is made
    due at once for the poller; one the reader follows already is left as it is."""
    now = now or utcnow()
    feeds = [feed for feed in imported.feeds if len(feed.url) <= MAX_URL]
    followed = set(
        await session.scalars(
            select(FeedSubscription.source_id).where(FeedSubscription.user_id == viewer.id)
        )
    )
    added = 0
    for start in range(0, len(feeds), _CHUNK):
        chunk = feeds[start : start + _CHUNK]
        known = await _sources_at(session, [feed.url for feed in chunk])
        new = [
            FeedSource(url=f.url, title=f.title, site_url=_site(f.site), next_poll_at=now)
            for f in {f.url: f for f in chunk if f.url not in known}.values()
        ]
        session.add_all(new)
        await session.flush()
        known.update({source.url: source.id for source in new})
        for feed in chunk:
            source_id = known[feed.url]
            if source_id in followed:
                continue
            followed.add(source_id)
            folder = _words(feed.folder or "")[:MAX_FOLDER]
            session.add(FeedSubscription(user_id=viewer.id, source_id=source_id, folder=folder))
            added += 1
        await session.flush()
        if progress is not None:
            progress(start + len(chunk), len(feeds))
    unreadable = imported.skipped + len(imported.feeds) - len(feeds)
    return ImportReport(added, len(feeds) - added, unreadable)


def _site(url: str | None) -> str | None:
    return url if url and len(url) <= MAX_URL and url.startswith(("http://", "https://")) else None


async def _sources_at(session: AsyncSession, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(urls), _CHUNK):
        rows = await session.execute(
            select(FeedSource.url, FeedSource.id).where(
                FeedSource.url.in_(urls[start : start + _CHUNK])
            )
        )
        found.update({row.url: row.id for row in rows})
    return found
