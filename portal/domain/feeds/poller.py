"""The poller: rounds that poll every source whose time has come, for the worker processes
(``portal worker``), for the server itself in the embedded default, and for ``portal feeds
poll``.

A round has three stages, and no database transaction is ever open while a server is waited
for:

1. **Claim** (:func:`claim`): in one short transaction, a batch of due sources is chosen and
   *leased* by moving their ``next_poll_at`` :data:`LEASE` ahead. On PostgreSQL the rows are
   locked with ``FOR UPDATE SKIP LOCKED``, so several pollers running at once each take other
   sources; a poller that dies with sources claimed leaves them to come back when their lease
   ends. SQLite has one writer at a time (the claim begins as a write), the same code without
   ``SKIP LOCKED``. A private source (an account's own timeline, :mod:`.timelines`) is claimed
   with its account's encrypted secrets, decrypted only for its fetch (:attr:`Poller.vault`).
2. **Fetch** (:func:`.store.retrieve`): with no session at hand, at most ``concurrency``
   fetches at once over all hosts and ``per_host`` at once to any one host
   (:class:`Hosts`), each host with a pool of connections of its own, each fetch
   within the fetcher's size and time limits; :data:`PARSERS` feeds are parsed at once, each in
   a process of :attr:`Poller.parsers`. A slow, huge or endless source is cut off by those
   limits while the others go on around it. A private source is read by
   :func:`.timelines.retrieve`, in its server's pool.
3. **Record** (:func:`.store.record`): what came back is written in short transactions, as
   many answers at once as have arrived within :data:`GATHER` (a burst of "not modified" in
   one statement, :func:`.store.record_unchanged`; the entries of all the feeds in one
   query and one insert). A batch that fails is written again one source at a time, so one
   bad row costs only itself.
   A source that this poll paused (gone, refused, failing for a week) has its readers told
   (:func:`portal.domain.notifications.feed_paused`), once: the poll that pauses it is the
   only one that sees it running before. An account that no longer lets Portal read it is
   marked for reconnecting instead (:func:`.timelines.account_revoked`), and a follow list
   brings its subscriptions in step (:func:`.timelines.sync_follows`).

The database is used by one stage at a time within a round (:class:`_Database`): on SQLite
that is all it allows anyway, and a round's transactions are short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from connectors import base
from connectors._addresses import AddressPolicy
from portal.crypto import Vault
from portal.db import session_scope
from portal.domain import jobs, notifications
from portal.domain.feeds import digest, store, timelines
from portal.domain.feeds.fetch import DEADLINE, Fetched, Validators
from portal.net import GuardedClient, guarded_client
from portal.storage.models import FeedSource, utcnow
from portal.workers import Workers

log = logging.getLogger("portal.feeds")

LEASE = timedelta(minutes=10)
"""How long a claimed source is kept from other pollers: far longer than its fetch may take
(:data:`.fetch.DEADLINE`), waiting for its host's slot included, in all but extreme cases."""
CLAIM = 200
"""Sources claimed at once."""
CONCURRENCY = 64
"""Fetches at once, over all hosts."""
PER_HOST = 2
"""Fetches at once to one host."""
PARSERS = 2
"""Feeds parsed at once, each in a process of :attr:`Poller.parsers` (or a thread). Parsing
holds Python's lock of the interpreter nearly all the time: in threads, feeds are parsed no
faster than one at a time, taking turns with the event loop (on the benchmark's ingest,
``make bench``: 0.37 of feedparser's rate alone in two threads, 0.69 to 0.74 in two
processes on a machine of two cores, the batched writes included). Twice as many feeds as
processes are handed over at once, so that a process finds the next feed waiting when it is
done with one."""
PARSED_PER_PROCESS = 500
"""Feeds a parsing process reads before it is replaced, giving back what the largest left."""
RECORD = 500
"""Answers written at most in one transaction."""
GATHER = 0.05
"""Seconds the writer waits, after an answer, for more to write in the same transaction: a
transaction costs the same for one answer as for dozens."""
IDLE_HOSTS = 256
"""Hosts whose client (and its open connections) a round keeps while none of their feeds is
being fetched, for the feeds of theirs still to come."""
IDLE = 10.0
"""Seconds at most between two rounds of a poller that runs forever, when nothing is due."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased source, as much of it as its fetch needs."""

    id: int
    url: str
    validators: Validators
    find_feed: bool = False
    """Never read yet: a page at its address is read for the feed it names."""
    hint: int | None = None
    """The source's own hint of how often it changes (seconds)."""
    reader: timelines.Reader | None = None
    """A private source's account, read with its credentials (:mod:`.timelines`)."""

    @property
    def where(self) -> str:
        """The address whose host the fetch goes to."""
        return self.reader.origin if self.reader is not None else self.url


@dataclass(slots=True)
class Round:
    """What a round did."""

    polled: int = 0
    new: int = 0
    updated: int = 0
    not_modified: int = 0
    failed: int = 0
    paused: int = 0
    told: int = 0
    """Notifications sent to the readers of the sources paused."""

    def add(self, polled: store.Polled) -> None:
        self.polled += 1
        self.new += polled.stored.new
        self.updated += polled.stored.updated
        self.not_modified += polled.not_modified
        self.failed += not polled.ok
        self.paused += polled.paused


@dataclass(slots=True)
class _Host:
    client: GuardedClient
    places: asyncio.Semaphore
    users: int = 0


class Hosts:
    """The hosts a round fetches from: at most ``per_host`` fetches at once from one host,
    however many sources it serves, without holding other hosts up; and each host's HTTP
    client, kept while the round goes on.

    One client for all hosts would keep one pool of connections for all, and httpcore's pool
    walks all its connections for each request it places (several times, some walks within
    walks): with a few dozen of them, most of a poll of unchanged feeds went there. A pool
    per host holds its ``per_host`` connections, kept alive from one of the host's feeds to
    the next, also from one claimed batch to the next: the clients of at most
    :data:`IDLE_HOSTS` hosts with no fetch waiting or running are kept, the longest unused
    closed first. :meth:`close` closes them all."""

    def __init__(self, *, allow_loopback: bool, per_host: int) -> None:
        self._policy = AddressPolicy(allow_loopback=allow_loopback)
        self._per_host = per_host
        self._busy: dict[str, _Host] = {}
        self._idle: OrderedDict[str, GuardedClient] = OrderedDict()

    @contextlib.asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[GuardedClient]:
        """A place to fetch from the host of ``url``, once one is free: its client."""
        host = _host(url)
        used = self._busy.get(host)
        if used is None:
            client = self._idle.pop(host, None) or guarded_client(
                policy=self._policy, connections=self._per_host, keepalive=self._per_host
            )
            used = self._busy[host] = _Host(client, asyncio.Semaphore(self._per_host))
        used.users += 1
        try:
            async with used.places:
                yield used.client
        finally:
            used.users -= 1
            if used.users == 0:
                del self._busy[host]
                self._idle[host] = used.client
                if len(self._idle) > IDLE_HOSTS:
                    await self._idle.popitem(last=False)[1].aclose()

    def busy_hosts(self) -> int:
        """Hosts with fetches waiting or running."""
        return len(self._busy)

    async def close(self) -> None:
        clients = [*self._idle.values(), *(used.client for used in self._busy.values())]
        self._idle.clear()
        self._busy.clear()
        for client in clients:
            await client.aclose()


def _host(url: str) -> str:
    """The host of ``url``, as :class:`Hosts` knows it."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _eligible(now: datetime, every: bool, after: int) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [FeedSource.paused_at.is_(None)]
    if every:
        conditions.append(FeedSource.id > after)
    else:
        conditions.append(FeedSource.next_poll_at <= now)
    return conditions


async def count(session: AsyncSession, now: datetime, *, every: bool = False) -> int:
    """How many sources a round at ``now`` would poll (every one not paused, with ``every``)."""
    found = await session.scalar(
        select(func.count()).select_from(FeedSource).where(*_eligible(now, every, 0))
    )
    return int(found or 0)


async def claim(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int = CLAIM,
    lease: timedelta = LEASE,
    every: bool = False,
    after: int = 0,
    leased_at: datetime | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` sources due at ``now`` (the most overdue first), or with
    ``every`` the next ones by id after ``after``, paused ones aside, for ``lease`` from
    ``leased_at`` (``now`` by default: a long round passes the time it has come to, so that
    its last claims are not leased already expired). The caller commits."""
    query = (
        select(
            FeedSource.id,
            FeedSource.url,
            FeedSource.etag,
            FeedSource.last_modified,
            FeedSource.last_success_at,
            FeedSource.account_id,
            FeedSource.kind,
            FeedSource.cursor,
            FeedSource.hint_seconds,
        )
        .where(*_eligible(now, every, after))
        .order_by(*((FeedSource.id,) if every else (FeedSource.next_poll_at, FeedSource.id)))
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=True, of=FeedSource)
    rows = (await session.execute(query)).all()
    if rows:
        await session.execute(
            update(FeedSource)
            .where(FeedSource.id.in_([row.id for row in rows]))
            .values(next_poll_at=(leased_at or now) + lease)
        )
    readers = await timelines.readers(
        session,
        [(row.id, row.account_id, row.kind, row.cursor) for row in rows if row.account_id],
    )
    return [
        Claim(
            row.id,
            row.url,
            Validators(row.etag, row.last_modified),
            find_feed=row.last_success_at is None and row.account_id is None,
            hint=row.hint_seconds,
            reader=readers.get(row.id),
        )
        for row in rows
        if row.account_id is None or row.id in readers
    ]


async def record(
    session: AsyncSession,
    answers: list[tuple[Claim, store.Retrieved]],
    now: datetime,
    *,
    rng: random.Random | None = None,
    mailer: notifications.Mailer | None = None,
) -> tuple[list[store.Polled], int]:
    """Write what the fetches of claimed sources brought (a source deleted meanwhile is
    skipped), and tell the readers of the sources paused: the polls, and how many readers
    were told. The caller commits."""
    unchanged, changed = [], []
    for claimed, retrieved in answers:
        fetched = retrieved.fetched
        if claimed.reader is None and fetched is not None and _unchanged(fetched, retrieved):
            unchanged.append((claimed.id, fetched, claimed.hint))
        else:
            changed.append((claimed, retrieved))
    done = await store.record_unchanged(session, unchanged, now) if unchanged else []
    ids = [claimed.id for claimed, _ in changed]
    sources = (
        {
            source.id: source
            for source in await session.scalars(select(FeedSource).where(FeedSource.id.in_(ids)))
        }
        if ids
        else {}
    )
    kept = [(claimed, retrieved) for claimed, retrieved in changed if claimed.id in sources]
    polls = await store.record(
        session, [(sources[claimed.id], retrieved) for claimed, retrieved in kept], now=now, rng=rng
    )
    told = 0
    for (claimed, retrieved), polled in zip(kept, polls, strict=True):
        source = sources[claimed.id]
        if retrieved.revoked and source.account_id is not None:
            await timelines.account_revoked(session, source.account_id, mailer=mailer)
        elif polled.paused:
            told += await notifications.feed_paused(session, source, mailer=mailer)
        if retrieved.follows is not None:
            await timelines.sync_follows(session, source, retrieved.follows, now)
        done.append(polled)
    return done, told


def _unchanged(fetched: Fetched, retrieved: store.Retrieved) -> bool:
    """A plain "not modified": nothing to write but the source's health and next poll."""
    return (
        fetched.not_modified
        and retrieved.error is None
        and retrieved.cursor is None
        and retrieved.follows is None
        and not retrieved.revoked
    )


class _Database:
    """The round's sessions, one transaction at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._lock, session_scope(self._sessions, writing=True) as session:
            yield session


@dataclass
class Poller:
    """Polls sources, recording into the database of ``sessions``. Every connection goes
    through the address guard, which lets this machine through only with
    ``allow_loopback`` (development and tests)."""

    sessions: async_sessionmaker[AsyncSession]
    allow_loopback: bool = False
    concurrency: int = CONCURRENCY
    per_host: int = PER_HOST
    deadline: float = DEADLINE
    lease: timedelta = LEASE
    mailer: notifications.Mailer | None = None
    rng: random.Random | None = None
    on_polled: Callable[[store.Polled], None] | None = None
    """Called after each source's poll is written (a progress bar)."""
    vault: Vault | None = None
    """Opens the secrets of the accounts whose own timelines are read; without it they are
    not read."""
    context: base.Context | None = None
    """The connectors' context (an AT Protocol resolver); by default one with the same
    address rules as the poller."""
    parsers: Workers | None = None
    """The processes that parse feeds (:data:`PARSERS` of them): the server's event loop, or
    the worker's, goes on while a feed is read. Without them, a thread parses."""

    def close(self) -> None:
        """Stop the parsing processes (they start again with the next feed to parse)."""
        if self.parsers is not None:
            self.parsers.close()

    async def email_digests(self, now: datetime | None = None) -> int:
        """Email the morning digests whose hour has come (:func:`.digest.email_due`)."""
        if self.mailer is None:
            return 0
        async with session_scope(self.sessions, writing=True) as session:
            sent = await digest.email_due(session, self.mailer, now)
        if sent:
            log.info("emailed %d digests", sent)
        return sent

    async def round(
        self, *, now: datetime | None = None, every: bool = False, limit: int | None = None
    ) -> Round:
        """Poll every source due at ``now`` (every source not paused, with ``every``), at most
        ``limit`` of them."""
        now = now or utcnow()
        started = time.monotonic()

        def clock() -> datetime:
            """The round's time: ``now``, moved on by the time the round has taken."""
            return now + timedelta(seconds=time.monotonic() - started)

        database = _Database(self.sessions)
        done = Round()
        # Bounded: answers wait for the writer rather than piling up in memory.
        answers: asyncio.Queue[tuple[Claim, store.Retrieved] | None] = asyncio.Queue(RECORD)
        fetching = asyncio.Semaphore(self.concurrency)
        parsing = asyncio.Semaphore(PARSERS * (1 if self.parsers is None else 2))
        outstanding = asyncio.Semaphore(2 * CLAIM)  # claimed and not yet fetched
        hosts = Hosts(allow_loopback=self.allow_loopback, per_host=self.per_host)
        writer = asyncio.create_task(self._write(database, answers, clock, done))
        tasks: set[asyncio.Task[None]] = set()
        try:
            claimed_so_far, after = 0, 0
            while limit is None or claimed_so_far < limit:
                size = CLAIM if limit is None else min(CLAIM, limit - claimed_so_far)
                async with database.transaction() as session:
                    batch = await claim(
                        session,
                        now,
                        limit=size,
                        lease=self.lease,
                        every=every,
                        after=after,
                        leased_at=clock(),
                    )
                if not batch:
                    break
                claimed_so_far += len(batch)
                after = batch[-1].id
                for claimed in batch:
                    await outstanding.acquire()
                    task = asyncio.create_task(
                        self._fetch(claimed, hosts, fetching, parsing, outstanding, answers)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
            await answers.put(None)
            await writer
        finally:
            for task in (*tasks, writer):
                task.cancel()
            await asyncio.gather(*tasks, writer, return_exceptions=True)
            await hosts.close()
        return done

    async def _fetch(
        self,
        claimed: Claim,
        hosts: Hosts,
        fetching: asyncio.Semaphore,
        parsing: asyncio.Semaphore,
        outstanding: asyncio.Semaphore,
        answers: asyncio.Queue[tuple[Claim, store.Retrieved] | None],
    ) -> None:
        try:
            async with hosts.slot(claimed.where) as http, fetching:
                if claimed.reader is not None:
                    retrieved = await timelines.retrieve(
                        http,
                        claimed.reader,
                        vault=self.vault,
                        context=self._context(),
                        parsing=parsing,
                    )
                else:
                    retrieved = await store.retrieve(
                        http,
                        claimed.url,
                        claimed.validators,
                        deadline=self.deadline,
                        parsing=parsing,
                        parsers=self.parsers,
                        find_feed=claimed.find_feed,
                    )
        except Exception:  # a fault of ours: the source comes back when its lease ends
            log.exception("polling %s failed", claimed.url)
            outstanding.release()
            return
        await answers.put((claimed, retrieved))  # waits while the writer is behind
        outstanding.release()

    def _context(self) -> base.Context:
        if self.context is not None:
            return self.context
        return base.Context(addresses=AddressPolicy(allow_loopback=self.allow_loopback))

    async def _write(
        self,
        database: _Database,
        answers: asyncio.Queue[tuple[Claim, store.Retrieved] | None],
        clock: Callable[[], datetime],
        done: Round,
    ) -> None:
        finished = False
        while not finished:
            batch: list[tuple[Claim, store.Retrieved]] = []
            item = await answers.get()
            gathered = time.monotonic() + GATHER
            while item is not None:
                batch.append(item)
                if len(batch) >= RECORD:
                    break
                if not answers.empty():
                    item = answers.get_nowait()
                    continue
                try:
                    item = await asyncio.wait_for(answers.get(), gathered - time.monotonic())
                except TimeoutError:
                    break
            finished = item is None
            if batch:
                await self._write_batch(database, batch, clock(), done)

    async def _write_batch(
        self,
        database: _Database,
        batch: list[tuple[Claim, store.Retrieved]],
        now: datetime,
        done: Round,
    ) -> None:
        try:
            async with database.transaction() as session:
                written, told = await record(session, batch, now, rng=self.rng, mailer=self.mailer)
        except Exception:
            if len(batch) == 1:
                log.exception("recording the poll of %s failed", batch[0][0].url)
                return
            for one in batch:  # each alone, so that one bad row costs only itself
                await self._write_batch(database, [one], now, done)
            return
        done.told += told
        for polled in written:
            done.add(polled)
            if self.on_polled is not None:
                self.on_polled(polled)


async def seconds_until_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> float:
    """Seconds until the next source is due (0 when one is), :data:`IDLE` when none is."""
    now = now or utcnow()
    async with session_scope(sessions) as session:
        soonest = await session.scalar(
            select(func.min(FeedSource.next_poll_at)).where(FeedSource.paused_at.is_(None))
        )
    if soonest is None:
        return IDLE
    return max((soonest - now).total_seconds(), 0.0)


POLL = "poll_feeds"
"""The poller's job in the durable queue (``portal.domain.jobs``): one, which one worker at a
time holds, run again when the next source is due."""
_SUBJECT = "feeds"


async def schedule(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Make sure the poller's job is in the queue (a worker that polls calls this as it
    starts); one already there is left as it is."""
    async with session_scope(sessions, writing=True) as session:
        if await jobs.due_at(session, POLL, _SUBJECT) is None:
            await jobs.enqueue(session, POLL, _SUBJECT)


@dataclass
class Polling:
    """The handler of the poller's job: a round of polling, the morning digests whose hour
    has come, then rest until the next source is due (at most ``idle`` seconds, so that
    sources added meanwhile are not left waiting). Sources keep their own leases, so a
    ``portal poll`` run alongside shares them."""

    poller: Poller
    idle: float = IDLE

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {POLL: self.poll}

    async def poll(self, job: jobs.Claimed) -> float:
        poller = self.poller
        try:
            done = await poller.round()
        except Exception:  # the database away for a moment: try again later
            log.exception("a polling round failed")
            done = Round()
        if done.polled:
            log.info(
                "polled %d feeds: %d new entries, %d updated, %d not modified, %d failed,"
                " %d paused",
                done.polled,
                done.new,
                done.updated,
                done.not_modified,
                done.failed,
                done.paused,
            )
        try:
            await poller.email_digests()
        except Exception:
            log.exception("the digests could not be emailed")
        try:
            wait = await seconds_until_due(poller.sessions)
        except Exception:
            log.exception("the database could not be read")
            wait = self.idle
        return min(max(wait, 1.0), self.idle)
