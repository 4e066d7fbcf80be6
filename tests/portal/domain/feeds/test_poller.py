"""Polling rounds on the real database with real servers: feeds that misbehave do not hold up
the others, claims are leased and never shared by two pollers, a paused feed is told to its
readers once."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors._addresses import AddressPolicy
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import notifications
from portal.domain.feeds import poller, store
from portal.domain.feeds.poller import Poller
from portal.net import guarded_client
from portal.storage import migrate
from portal.storage.models import FeedEntry, FeedSource, FeedSubscription, Notification, utcnow
from portal.workers import Workers
from tests.fixtures.database import postgres_url
from tests.fixtures.feeds import FeedServer, drip, endless, send, serving, static
from tests.portal.domain.feeds.test_parse import BOMB
from tests.portal.domain.people import person

DEADLINE = 2.0


def _rss(name: str, items: int = 3) -> bytes:
    entries = "".join(
        f"<item><guid>{name}-{n}</guid><title>{name} {n}</title></item>" for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"{entries}</channel></rss>"
    ).encode()


async def _broken(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    await send(writer, "500 Internal Server Error", b"down")


async def _gone(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    await send(writer, "410 Gone", b"")


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with serving() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as client:
        yield client


async def _sources(db: AsyncSession, *urls: str) -> list[FeedSource]:
    made = [FeedSource(url=url, next_poll_at=utcnow() - timedelta(minutes=1)) for url in urls]
    db.add_all(made)
    await db.flush()
    await db.commit()
    return made


async def _count(db: AsyncSession, model: type, *where: object) -> int:
    query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
    return int(await db.scalar(query) or 0)


async def test_misbehaving_feeds_are_cut_off_while_the_others_are_stored(
    db, sessionmaker, feeds, http
):
    """Twenty feeds that answer well, with a feed that drips a byte at a time, one that never
    ends and an entity bomb: the round ends within the fetcher's deadline, every good feed is
    stored, the bad ones are recorded as failing. The slow ones are on another host name of
    this machine, as they would be on the web: each host has its own slots."""
    for n in range(20):
        feeds.routes[f"/good/{n}"] = static(_rss(f"good{n}"), {"content-type": "text/xml"})
    feeds.routes |= {"/drip": drip, "/endless": endless, "/bomb": static(BOMB)}
    good = [feeds.url(f"/good/{n}") for n in range(20)]
    slow = f"http://localhost:{feeds.port}"
    await _sources(db, *good, f"{slow}/drip", f"{slow}/endless", feeds.url("/bomb"))

    started = time.monotonic()
    done = await Poller(sessionmaker, allow_loopback=True, deadline=DEADLINE).round()
    took = time.monotonic() - started

    assert took < DEADLINE + 1.5, took
    assert (done.polled, done.new, done.failed) == (23, 61, 2)
    sources = {
        s.url: s
        for s in await db.scalars(select(FeedSource).execution_options(populate_existing=True))
    }
    assert all(sources[url].title.startswith("good") for url in good)
    assert all(sources[url].failures == 0 for url in (*good, feeds.url("/bomb")))
    assert "seconds" in (sources[f"{slow}/drip"].last_error or "")
    assert "larger than" in (sources[f"{slow}/endless"].last_error or "")
    assert sources[feeds.url("/bomb")].last_error  # read, with its entities recorded
    assert await _count(db, FeedEntry) == 61
    assert all(s.next_poll_at > utcnow() + timedelta(minutes=5) for s in sources.values())
    assert (
        await Poller(sessionmaker, allow_loopback=True).round()
    ).polled == 0  # nothing due any more


async def test_a_claim_is_a_lease_that_ends(db, sessionmaker, feeds, http):
    """A poller that dies after claiming leaves its sources to come back when the lease ends."""
    feeds.routes["/rss"] = static(_rss("ada"))
    [source] = await _sources(db, feeds.url("/rss"))
    now = utcnow()
    async with session_scope(sessionmaker) as session:
        [claimed] = await poller.claim(session, now)  # and then the poller died
    assert claimed.id == source.id
    async with session_scope(sessionmaker) as session:
        assert await poller.claim(session, now + poller.LEASE - timedelta(seconds=1)) == []
    assert (await Poller(sessionmaker, allow_loopback=True).round(now=now)).polled == 0

    later = now + poller.LEASE + timedelta(seconds=1)
    done = await Poller(sessionmaker, allow_loopback=True).round(now=later)
    assert (done.polled, done.new) == (1, 3)
    await db.refresh(source)
    assert source.title == "ada" and source.last_polled_at is not None
    assert later <= source.last_polled_at < later + timedelta(seconds=30)  # the round's clock


async def test_every_source_is_polled_once_with_all(db, sessionmaker, feeds, http):
    for name in ("a", "b", "c"):
        feeds.routes[f"/{name}"] = static(_rss(name, items=1))
    made = await _sources(db, *(feeds.url(f"/{name}") for name in "abc"))
    made[0].next_poll_at = utcnow() + timedelta(hours=3)  # not due
    await db.commit()
    assert (await Poller(sessionmaker, allow_loopback=True).round()).polled == 2
    done = await Poller(sessionmaker, allow_loopback=True).round(every=True)
    assert (done.polled, done.new) == (3, 1)  # only /a had not been read
    assert [path for path, _ in feeds.requests].count("/a") == 1


async def test_a_page_given_for_its_feed_moves_to_the_feed_it_names(db, sessionmaker, feeds):
    """A linked website's address is a page: the first round reads it for the feed it names,
    and the source moves there; one that was already read is a feed or a failure, never a
    page to search again."""
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
    feeds.routes |= {
        "/": static(page, {"content-type": "text/html"}),
        "/rss": static(_rss("site"), {"content-type": "application/rss+xml"}),
        "/was-a-feed": static(page, {"content-type": "text/html"}),
    }
    site, was_a_feed = await _sources(db, feeds.url("/"), feeds.url("/was-a-feed"))
    was_a_feed.last_success_at = utcnow() - timedelta(days=1)
    await db.commit()
    done = await Poller(sessionmaker, allow_loopback=True).round()
    assert (done.polled, done.new, done.failed) == (2, 3, 1)
    await db.refresh(site)
    await db.refresh(was_a_feed)
    assert site.url == feeds.url("/rss") and site.title == "site"
    assert was_a_feed.url == feeds.url("/was-a-feed")
    assert was_a_feed.last_error == "There is no feed at this address any more."


async def test_a_paused_feed_is_told_to_each_reader_once(db, sessionmaker, feeds, http):
    feeds.routes |= {"/down": _broken, "/gone": _gone, "/fine": static(_rss("fine"))}
    ada, bob, eve = await person(db, "Ada"), await person(db, "Bob"), await person(db, "Eve")
    down, lost, fine = await _sources(
        db, feeds.url("/down"), feeds.url("/gone"), feeds.url("/fine")
    )
    down.title, down.failures = "Down for days", 9
    down.failing_since = utcnow() - timedelta(days=8)
    db.add_all(
        [
            FeedSubscription(user_id=ada.id, source_id=down.id),
            FeedSubscription(user_id=bob.id, source_id=down.id),
            FeedSubscription(user_id=bob.id, source_id=lost.id),
            FeedSubscription(user_id=eve.id, source_id=fine.id),
        ]
    )
    await db.commit()

    done = await Poller(sessionmaker, allow_loopback=True).round()
    assert (done.polled, done.failed, done.paused, done.told) == (3, 2, 2, 3)
    told = (await db.execute(select(Notification.user_id, Notification.feed_source_id))).all()
    assert sorted(told) == sorted([(ada.id, down.id), (bob.id, down.id), (bob.id, lost.id)])
    page = await notifications.list_notifications(db, ada)
    assert [item.text for item in page.items] == [
        "The feed Down for days stopped working: it is no longer fetched until it is refreshed."
    ]

    # Paused, they are polled no more; refreshed by hand and failing again, nobody is told twice.
    assert (await Poller(sessionmaker, allow_loopback=True).round(every=True)).polled == 1
    await db.refresh(down)
    polled = await store.poll(db, down, http)
    assert not polled.ok and not polled.paused
    assert await _count(db, Notification) == 3


@pytest.mark.skipif(postgres_url() is None, reason="several pollers at once need PostgreSQL")
async def test_two_pollers_never_claim_the_same_source(databases):
    url = await databases.new("claims")
    engines = [make_engine(url), make_engine(url)]
    try:
        await migrate.upgrade(engines[0])
        first, second = (make_sessionmaker(engine) for engine in engines)
        now = utcnow()
        async with session_scope(first) as session:
            session.add_all(
                FeedSource(url=f"https://example.org/{n}", next_poll_at=now) for n in range(500)
            )
        # One holds its claim open while the other claims: it skips what is locked, at once.
        async with session_scope(first) as one:
            held = await poller.claim(one, now, limit=100)
            async with asyncio.timeout(5), session_scope(second) as other:
                taken = await poller.claim(other, now, limit=100)
        assert len(held) == len(taken) == 100
        assert not {c.id for c in held} & {c.id for c in taken}

        async def claim_all(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
            ids: list[int] = []
            while True:
                async with session_scope(sessions, writing=True) as session:
                    batch = await poller.claim(session, now, limit=7)
                if not batch:
                    return ids
                ids += [c.id for c in batch]

        a, b = await asyncio.gather(claim_all(first), claim_all(second))
        assert a and b and not set(a) & set(b)
        assert len(a) + len(b) == 300
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_poller_emails_the_digests_whose_hour_has_come(db, sessionmaker):
    ada = await person(db, "Ada", digest_hour=utcnow().hour)
    [source] = await _sources(db, "https://example.org/rss")
    db.add(FeedSubscription(user_id=ada.id, source_id=source.id))
    db.add(
        FeedEntry(
            source_id=source.id, key_hash="a" * 64, title="Fresh", digest="d", sort_at=utcnow()
        )
    )
    await db.commit()
    mailer = notifications.Mailer("", "portal@example.org", "https://portal.test")
    polling = Poller(sessionmaker, allow_loopback=True, mailer=mailer)
    assert await polling.email_digests() == 1
    assert await polling.email_digests() == 0  # once a day
    assert await Poller(sessionmaker, allow_loopback=True).email_digests() == 0  # no mail


async def test_one_host_gets_a_few_fetches_at_once_and_others_are_not_held_up() -> None:
    hosts = poller.Hosts(allow_loopback=False, per_host=2)
    inside: dict[str, int] = {"a.example": 0, "b.example": 0}
    most: dict[str, int] = {"a.example": 0, "b.example": 0}
    clients: dict[str, set[int]] = {"a.example": set(), "b.example": set()}

    async def use(host: str) -> None:
        async with hosts.slot(f"https://{host}/feed") as http:
            clients[host].add(id(http))
            inside[host] += 1
            most[host] = max(most[host], inside[host])
            await asyncio.sleep(0.02)
            inside[host] -= 1

    await asyncio.gather(*(use("a.example") for _ in range(10)), use("b.example"))
    assert most == {"a.example": 2, "b.example": 1}
    assert hosts.busy_hosts() == 0
    await use("a.example")  # a later batch's fetch from the same host
    assert [len(made) for made in clients.values()] == [1, 1], "one client for each host"
    await hosts.close()


async def test_a_parsing_process_that_dies_costs_one_feed_not_the_poller(db, sessionmaker, feeds):
    """Feeds are parsed in processes of their own (:class:`portal.workers.Workers`): one that
    dies (out of memory, killed) fails its feed with a reason, and the next round parses in
    processes started afresh."""
    feeds.routes |= {"/huge": static(_rss("huge", items=40_000)), "/fine": static(_rss("fine"))}
    (huge,) = await _sources(db, feeds.url("/huge"))
    parsers = Workers(workers=1, tasks_per_worker=10)
    polling = Poller(sessionmaker, allow_loopback=True, parsers=parsers)
    try:
        running = asyncio.create_task(polling.round())
        for _ in range(600):  # the parsing process starts with the first feed to parse
            if multiprocessing.active_children():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # parsing by now
        for process in multiprocessing.active_children():
            process.kill()
        done = await running
        assert (done.polled, done.failed) == (1, 1)
        await db.refresh(huge)
        assert huge.last_error == "The feed is too large or too complex to read."

        await _sources(db, feeds.url("/fine"))
        again = await polling.round()
        assert (again.polled, again.new) == (1, 3)
    finally:
        polling.close()
