"""Sources and their entries in the database: following a feed, polling it, keeping its
entries once for all its readers.

- A source is one feed address, shared: the first person to follow it makes it (and reads it
  at once); whoever follows it next shares its entries and its polls.
- Entries are stored once per source, known by the SHA-256 of their key (guid, then link,
  then content); an entry that comes back changed (another digest) replaces the stored one.
- A poll sends the source's validators; "not modified" stores nothing. Parsing runs in a
  thread, off the event loop. Success plans the next poll from the feed's hints, failure backs
  off (:mod:`.schedule`); a source gone for good (410), or failing for a week without a single
  success, is paused. A source never read yet whose address is a page (a linked website)
  moves to the feed the page names (:func:`.discover.named_by`).
- A source may instead be an account's own timeline (:mod:`.timelines`): private, never found
  by its address (:func:`source_at`), never in a subscription list (:func:`outlines`), read by
  the poller with the account's credentials and recorded here like any feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db import write_next
from portal.domain.feeds import discover, opml, schedule
from portal.domain.feeds.fetch import DEADLINE, Fetched, FetchError, Validators, fetch
from portal.domain.feeds.parse import NotAFeed, ParsedEntry, ParsedFeed, parse
from portal.errors import N_, Conflict, InvalidInput
from portal.net import GuardedClient
from portal.storage.models import (
    FeedEntry,
    FeedSource,
    FeedSubscription,
    LinkedAccount,
    User,
    utcnow,
)
from portal.workers import WorkerDied, Workers

MAX_URL = 2000
"""The longest source address kept (``feed_sources.url``)."""
_CHUNK = 500
"""Keys looked up at once when storing (well under every database's parameter limit)."""
_SOURCES = cast(Table, FeedSource.__table__)
_ENTRIES = cast(Table, FeedEntry.__table__)
"""The tables themselves, for statements that need no objects."""


@dataclass(frozen=True, slots=True)
class Stored:
    new: int
    updated: int


@dataclass(frozen=True, slots=True)
class Polled:
    source_id: int
    ok: bool
    not_modified: bool = False
    stored: Stored = Stored(0, 0)
    error: str | None = None
    paused: bool = False
    """This poll paused the source (gone, refused, or failing for a week): its readers are
    to be told."""


def refusal(error: FetchError, field: str = "url") -> InvalidInput:
    """A fetch that failed while a person added a source, as the form's or the API's 4xx."""
    return InvalidInput(error.message, field=field, **dict(error.params))


def key_hash(entry: ParsedEntry) -> str:
    return hashlib.sha256(entry.key.encode("utf-8", "replace")).hexdigest()


async def source_at(session: AsyncSession, url: str) -> FeedSource | None:
    """The shared source of ``url``; a private source (an account's own timeline) is never
    found by its address."""
    found: FeedSource | None = await session.scalar(
        select(FeedSource).where(FeedSource.url == url, FeedSource.account_id.is_(None))
    )
    return found


async def subscribe(
    session: AsyncSession,
    user: User,
    typed: str,
    *,
    http: GuardedClient,
    folder: str = "",
    now: datetime | None = None,
) -> FeedSubscription:
    """``user`` follows the feed at what they typed (a feed's address or a page that names
    one). An address already followed by someone is shared without fetching it again."""
    now = now or utcnow()
    try:
        url = discover.address(typed)
    except FetchError as error:
        raise refusal(error) from error
    source = await source_at(session, url)
    if source is None:
        try:
            found = await discover.find(http, url)
        except FetchError as error:
            raise refusal(error) from error
        await write_next(session)
        source = await source_at(session, found.url)
        if source is None:
            source = FeedSource(url=found.url)
            session.add(source)
            await session.flush()
            await record(session, [(source, Retrieved(found.fetched, found.feed))], now=now)
    taken = await session.scalar(
        select(FeedSubscription.id).where(
            FeedSubscription.user_id == user.id, FeedSubscription.source_id == source.id
        )
    )
    if taken is not None:
        raise Conflict("You already follow this feed.", field="url")
    subscription = FeedSubscription(user_id=user.id, source_id=source.id, folder=folder[:100])
    session.add(subscription)
    await session.flush()
    return subscription


async def outlines(session: AsyncSession, user: User) -> list[opml.Outline]:
    """What ``user`` follows, as the outlines of a subscription list, by folder then title."""
    rows = await session.execute(
        select(FeedSubscription, FeedSource)
        .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
        .where(FeedSubscription.user_id == user.id, FeedSource.account_id.is_(None))
        .order_by(FeedSubscription.folder, FeedSource.title, FeedSource.id)
    )
    return [
        opml.Outline(
            url=source.url,
            title=subscription.title or source.title,
            folder=subscription.folder or None,
            site=source.site_url,
        )
        for subscription, source in rows
    ]


async def store(
    session: AsyncSession, feeds: Sequence[tuple[FeedSource, ParsedFeed]], now: datetime
) -> list[Stored]:
    """Keep the entries of each feed of ``feeds`` for its source: new ones added, changed ones
    replaced; what was done for each. The feeds of a whole batch of polls at once: one query
    finds which entries are known (for each :data:`_CHUNK` of them), one statement adds the
    new ones, whatever the number of feeds."""
    latest: dict[tuple[int, str], tuple[int, ParsedEntry]] = {}
    for index, (source, feed) in enumerate(feeds):
        for entry in feed.entries:
            latest.setdefault((source.id, key_hash(entry)), (index, entry))
    known: dict[tuple[int, str], tuple[int, str]] = {}
    pairs = list(latest)
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        rows = await session.execute(
            select(FeedEntry.source_id, FeedEntry.key_hash, FeedEntry.id, FeedEntry.digest).where(
                FeedEntry.source_id.in_({source_id for source_id, _ in chunk}),
                FeedEntry.key_hash.in_({hashed for _, hashed in chunk}),
            )
        )
        known.update({(row.source_id, row.key_hash): (row.id, row.digest) for row in rows})
    new, changed = [0] * len(feeds), [0] * len(feeds)
    fresh = []
    for (source_id, hashed), (index, entry) in latest.items():
        found = known.get((source_id, hashed))
        if found is None:
            fresh.append(
                {"source_id": source_id, "key_hash": hashed, "first_seen_at": now}
                | _fields(entry, now)
            )
            new[index] += 1
        elif found[1] != entry.digest:
            fields = _fields(entry, now)
            del fields["sort_at"]  # an edit does not move the entry up the timeline
            await session.execute(
                update(FeedEntry).where(FeedEntry.id == found[0]).values(**fields)
            )
            changed[index] += 1
    for start in range(0, len(fresh), _CHUNK):
        await session.execute(insert(_ENTRIES), fresh[start : start + _CHUNK])
    return [Stored(added, updated) for added, updated in zip(new, changed, strict=True)]


def _fields(entry: ParsedEntry, now: datetime) -> dict[str, object]:
    published = entry.published or entry.updated
    return {
        "guid": entry.guid,
        "link": entry.link,
        "title": entry.title,
        "html": entry.html,
        "text": entry.text,
        "author": entry.author,
        "image": entry.image,
        "digest": entry.digest,
        "published_at": entry.published,
        "updated_at": entry.updated,
        "sort_at": min(published, now) if published else now,
    }


@dataclass(frozen=True, slots=True)
class Retrieved:
    """What one fetch of a source brought, read: the answer and its feed, or why there is
    none. Made with no database at hand, so that no transaction waits on a server."""

    fetched: Fetched | None = None
    feed: ParsedFeed | None = None
    error: FetchError | None = None
    found_at: str | None = None
    """Where the feed was found, when the address was a page that names it."""
    cursor: str | None = None
    """A private source's newest item now (:mod:`.timelines`)."""
    revoked: bool = False
    """The account of a private source no longer lets Portal read it."""
    follows: dict[str, tuple[str, str]] | None = None
    """A follow list's accounts: each one's posts address and name, by DID."""


async def retrieve(
    http: GuardedClient,
    url: str,
    validators: Validators,
    *,
    deadline: float = DEADLINE,
    parsing: asyncio.Semaphore | None = None,
    parsers: Workers | None = None,
    find_feed: bool = False,
) -> Retrieved:
    """Fetch the feed at ``url`` and parse it off the event loop: in one of the processes of
    ``parsers``, else in a thread; with ``parsing``, once one of its places is free. With
    ``find_feed`` (a source never read yet), a page at ``url`` is read for the feed it
    names."""
    try:
        fetched = await fetch(http, url, validators, deadline=deadline)
        if fetched.not_modified:
            return Retrieved(fetched)
        async with parsing or contextlib.nullcontext():
            feed = await _parse(fetched, parsers)
    except FetchError as failure:
        return Retrieved(error=failure)
    except NotAFeed:
        if not find_feed:
            return Retrieved(error=FetchError(N_("There is no feed at this address any more.")))
        try:
            found = await discover.named_by(http, fetched)
        except FetchError as failure:
            return Retrieved(error=failure)
        return Retrieved(_read(found.fetched), found.feed, found_at=found.url)
    return Retrieved(_read(fetched), feed)


async def _parse(fetched: Fetched, parsers: Workers | None) -> ParsedFeed:
    reading = functools.partial(
        parse, fetched.body, url=fetched.url, content_type=fetched.content_type
    )
    if parsers is None:
        return await asyncio.to_thread(reading)
    try:
        return await parsers.run(reading)
    except WorkerDied:  # out of memory, or killed: this feed is not worth another process
        raise FetchError(N_("The feed is too large or too complex to read.")) from None


def _read(fetched: Fetched) -> Fetched:
    """``fetched`` once parsed: its body (up to the size cap) is no longer kept."""
    return dataclasses.replace(fetched, body=b"")


async def record(
    session: AsyncSession,
    polls: Sequence[tuple[FeedSource, Retrieved]],
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> list[Polled]:
    """Record on each source of ``polls`` what its poll at ``now`` brought: its health, its
    next poll, and the entries of its feed (all stored together, :func:`store`). Touches only
    the database."""
    done: list[Polled | None] = []
    storing: list[tuple[int, FeedSource, Fetched, ParsedFeed]] = []
    for source, retrieved in polls:
        source.last_polled_at = now
        fetched, feed = retrieved.fetched, retrieved.feed
        if retrieved.error is not None:
            done.append(_failed(source, retrieved.error, now, rng))
            continue
        assert fetched is not None  # a Retrieved holds an answer or an error
        if retrieved.cursor is not None:
            source.cursor = retrieved.cursor
        if fetched.not_modified or feed is None:
            _healthy(source, fetched, now, None)
            done.append(Polled(source.id, ok=True, not_modified=True))
            continue
        if retrieved.found_at is not None:
            source = await _moved_to_feed(session, source, retrieved.found_at)
        elif fetched.moved_to and await source_at(session, fetched.moved_to) is None:
            source.url = fetched.moved_to
        source.kind = feed.kind
        source.title = feed.title[:500] or source.title  # a feed without a title keeps its name
        source.site_url = feed.site
        source.hint_seconds = int(feed.poll_hint) if feed.poll_hint else None
        storing.append((len(done), source, fetched, feed))
        done.append(None)
    stored = await store(session, [(source, feed) for _, source, _, feed in storing], now)
    for (index, source, fetched, feed), kept in zip(storing, stored, strict=True):
        _healthy(source, fetched, now, feed)
        done[index] = Polled(source.id, ok=True, stored=kept)
    return [polled for polled in done if polled is not None]


async def record_unchanged(
    session: AsyncSession, answers: Sequence[tuple[int, Fetched, int | None]], now: datetime
) -> list[Polled]:
    """What :func:`record` does for each "not modified" answer of ``answers`` (a source's id,
    the answer, and the source's own hint of how often it changes), in one statement and
    without loading the sources: most answers of most polls are these. A source deleted
    meanwhile is skipped."""
    table = _SOURCES
    failing = table.c.failures > 0
    statement = (
        update(table)
        .where(table.c.id == bindparam("source_id"))
        .values(
            last_polled_at=now,
            last_success_at=now,
            etag=bindparam("etag"),
            last_modified=bindparam("last_modified"),
            next_poll_at=bindparam("next_poll_at"),
            failures=0,
            failing_since=None,
            paused_at=None,
            # A success after failures forgets the failure; else the last parse's remark stays.
            last_error=case((failing, None), else_=table.c.last_error),
            last_error_params=case((failing, None), else_=table.c.last_error_params),
        )
    )
    ids = [source_id for source_id, _, _ in answers]
    present = set(await session.scalars(select(FeedSource.id).where(FeedSource.id.in_(ids))))
    rows = [
        {
            "source_id": source_id,
            "etag": fetched.validators.etag,
            "last_modified": fetched.validators.last_modified,
            "next_poll_at": now + timedelta(seconds=schedule.interval(fetched.max_age, hint)),
        }
        for source_id, fetched, hint in answers
        if source_id in present
    ]
    if rows:
        await session.execute(statement, rows)
    return [
        Polled(source_id, ok=True, not_modified=True) for source_id in ids if source_id in present
    ]


async def poll(
    session: AsyncSession,
    source: FeedSource,
    http: GuardedClient,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Polled:
    """Poll ``source`` once and record what happened on it (with ``session`` open meanwhile:
    for one source polled at someone's request; :mod:`.poller` polls many without). An
    account's own timeline is read by the poller alone, which holds the keys to its secrets."""
    now = now or utcnow()
    if source.account_id is not None:
        return Polled(source.id, ok=False, not_modified=True)
    retrieved = await retrieve(
        http,
        source.url,
        Validators(source.etag, source.last_modified),
        find_feed=source.last_success_at is None,
    )
    return (await record(session, [(source, retrieved)], now=now, rng=rng))[0]


async def _moved_to_feed(session: AsyncSession, source: FeedSource, url: str) -> FeedSource:
    """A source that had never been read turned out to be a page (a linked website, a
    channel's page) naming the feed at ``url``: it moves there. Where that feed is a source
    already, the accounts and the readers of the page read it instead, and the page's source,
    which never held an entry, is removed; the source that reads the feed now."""
    existing = await source_at(session, url)
    if existing is None or existing.id == source.id:
        source.url = url
        return source
    await session.execute(
        update(LinkedAccount)
        .where(LinkedAccount.feed_source_id == source.id)
        .values(feed_source_id=existing.id)
    )
    await session.execute(
        update(FeedSubscription)
        .where(
            FeedSubscription.source_id == source.id,
            FeedSubscription.user_id.not_in(
                select(FeedSubscription.user_id).where(FeedSubscription.source_id == existing.id)
            ),
        )
        .values(source_id=existing.id)
    )
    await session.delete(source)
    await session.flush()
    return existing


def _healthy(source: FeedSource, fetched: Fetched, now: datetime, feed: ParsedFeed | None) -> None:
    recovered = source.failures > 0
    source.etag = fetched.validators.etag
    source.last_modified = fetched.validators.last_modified
    source.last_success_at = now
    source.failures = 0
    source.failing_since = None
    source.paused_at = None
    if feed is not None:
        source.last_error = feed.error
        source.last_error_params = json.dumps(feed.error_params) if feed.error else None
    elif recovered:  # a 304 keeps the last parse's remark, not a failure's
        source.last_error = source.last_error_params = None
    wait = schedule.interval(fetched.max_age, source.hint_seconds)
    source.next_poll_at = now + timedelta(seconds=wait)


def _failed(
    source: FeedSource, error: FetchError, now: datetime, rng: random.Random | None
) -> Polled:
    source.failures += 1
    source.failing_since = source.failing_since or now
    source.last_error = error.message
    source.last_error_params = json.dumps(dict(error.params)) if error.params else None
    wait = schedule.backoff(source.failures, error.retry_after, rng)
    source.next_poll_at = now + timedelta(seconds=wait)
    running = source.paused_at is None
    if error.gone or error.refused or now - source.failing_since >= schedule.PAUSE_AFTER:
        source.paused_at = now
    paused = running and source.paused_at is not None
    return Polled(source.id, ok=False, error=str(error), paused=paused)
