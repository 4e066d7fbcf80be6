"""Sources and entries in the real database: following a feed, sharing it, polling it with its
validators, keeping entries once, and recording a source's health."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from connectors._addresses import AddressPolicy
from portal.domain.feeds import poller, schedule, store
from portal.domain.feeds.parse import parse
from portal.errors import Conflict, InvalidInput
from portal.net import guarded_client
from portal.storage.models import FeedEntry, FeedSource, FeedSubscription, utcnow
from tests.fixtures.feeds import FeedServer, send, serving, static
from tests.portal.domain.people import person


@dataclass
class Blog:
    """A feed whose items a test changes, answered with an ETag of its version."""

    items: dict[str, str] = field(default_factory=lambda: {"1": "First", "2": "Second"})
    status: str = "200 OK"
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        items = "".join(
            f"<item><guid isPermaLink='false'>{key}</guid><title>{title}</title>"
            f"<description>&lt;p onclick='x()'&gt;{title}&lt;/p&gt;</description>"
            f"<pubDate>Sun, 0{key} Dec 2026 08:00:00 GMT</pubDate></item>"
            for key, title in self.items.items()
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Ada</title>'
            f"<link>https://example.org/</link><ttl>120</ttl>{items}</channel></rss>"
        ).encode()

    async def answer(self, writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        body = self.body()
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.status != "200 OK":
            await send(writer, self.status, b"", self.headers)
        elif asked.get("if-none-match") == etag:
            await send(writer, "304 Not Modified", headers={"etag": etag})
        else:
            await send(
                writer, "200 OK", body, {"etag": etag, "content-type": "application/rss+xml"}
            )


@pytest.fixture
async def blog() -> AsyncIterator[tuple[FeedServer, Blog]]:
    feed = Blog()
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
    async with serving() as server:
        server.routes.update(
            {"/": static(page, {"content-type": "text/html"}), "/rss": feed.answer}
        )
        yield server, feed


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as client:
        yield client


async def _count(db, model) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_feed_is_followed_from_its_page_and_shared_by_the_next_reader(db, blog, http):
    server, _ = blog
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    followed = await store.subscribe(db, ada, server.url("/"), http=http, folder="Friends")
    source = await db.get(FeedSource, followed.source_id)
    assert source is not None and source.url == server.url("/rss")
    assert source.title == "Ada" and source.site_url == "https://example.org/"
    assert source.etag and source.failures == 0 and source.hint_seconds == 7200
    entries = (await db.scalars(select(FeedEntry).order_by(FeedEntry.sort_at))).all()
    assert [entry.title for entry in entries] == ["First", "Second"]
    assert all("onclick" not in entry.html for entry in entries)

    fetched = len(server.requests)
    shared = await store.subscribe(db, bob, server.url("/rss"), http=http)
    assert shared.source_id == source.id and len(server.requests) == fetched
    assert await _count(db, FeedSource) == 1 and await _count(db, FeedEntry) == 2
    assert await _count(db, FeedSubscription) == 2
    with pytest.raises(Conflict, match="already follow"):
        await store.subscribe(db, bob, server.url("/rss"), http=http)


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("javascript:alert(1)", "Only http and https"),
        ("http://", "not a web address"),
        ("file:///etc/passwd", "Only http and https"),
        ("http://127.0.0.1:9/feed", "private network"),
        ("http://169.254.169.254/latest/meta-data/", "private network"),
    ],
)
async def test_an_address_that_cannot_be_followed_is_a_clear_refusal(db, typed, words):
    ada = await person(db, "Ada")
    async with guarded_client() as http:
        with pytest.raises(InvalidInput, match=words) as refused:
            await store.subscribe(db, ada, typed, http=http)
    assert refused.value.status_code == 422 and refused.value.field == "url"
    assert await _count(db, FeedSource) == 0


async def test_polls_send_the_validators_keep_entries_once_and_replace_edited_ones(db, blog, http):
    server, feed = blog
    ada = await person(db, "Ada")
    followed = await store.subscribe(db, ada, server.url("/rss"), http=http)
    source = await db.get(FeedSource, followed.source_id)
    assert source is not None
    first = {e.guid: e.sort_at for e in await db.scalars(select(FeedEntry))}

    unchanged = await store.poll(db, source, http)
    assert unchanged.ok and unchanged.not_modified
    assert server.requests[-1][1]["if-none-match"] == source.etag

    feed.items = {"1": "First, edited", "2": "Second", "3": "Third"}
    changed = await store.poll(db, source, http)
    assert changed.stored == store.Stored(new=1, updated=1)
    entries = {e.guid: e for e in await db.scalars(select(FeedEntry))}
    assert entries["1"].title == "First, edited"
    assert entries["1"].sort_at == first["1"]  # an edit does not move it up the timeline
    assert await _count(db, FeedEntry) == 3
    again = await store.poll(db, source, http)
    assert again.not_modified and await _count(db, FeedEntry) == 3


async def test_failures_back_off_say_why_and_pause_a_source_that_is_gone(db, blog, http):
    server, feed = blog
    ada = await person(db, "Ada")
    followed = await store.subscribe(db, ada, server.url("/rss"), http=http)
    source = await db.get(FeedSource, followed.source_id)
    assert source is not None
    now = utcnow()

    feed.status, feed.headers = "503 Service Unavailable", {"retry-after": "3000"}
    failed = await store.poll(db, source, http, now=now, rng=random.Random(1))
    assert not failed.ok and failed.error == "The server is not working right now (HTTP 503)."
    assert source.failures == 1 and source.failing_since == now
    assert source.last_error == "The server is not working right now (HTTP %(status)s)."
    assert source.next_poll_at == now + timedelta(seconds=3000)
    assert source.paused_at is None
    await db.flush()
    assert await poller.count(db, now + timedelta(seconds=2999)) == 0
    assert await poller.count(db, now + timedelta(seconds=3000)) == 1

    # Failing for a week without a single success pauses it.
    later = now + schedule.PAUSE_AFTER
    await store.poll(db, source, http, now=later, rng=random.Random(1))
    assert source.failures == 2 and source.paused_at == later
    await db.flush()
    assert await poller.count(db, later + timedelta(days=30)) == 0  # paused

    # One success brings it back; a 410 pauses it at once.
    feed.status, feed.headers = "200 OK", {}
    assert (await store.poll(db, source, http, now=later)).ok
    assert source.failures == 0 and source.paused_at is None and source.last_error is None
    assert source.next_poll_at == later + timedelta(seconds=7200)  # the feed's <ttl>
    feed.status = "410 Gone"
    await store.poll(db, source, http, now=later)
    assert source.paused_at == later


async def test_a_permanent_redirect_moves_the_source(db, blog, http):
    server, _ = blog
    ada = await person(db, "Ada")
    followed = await store.subscribe(db, ada, server.url("/rss"), http=http)
    source = await db.get(FeedSource, followed.source_id)
    assert source is not None

    async def moved(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        await send(writer, "301 Moved Permanently", headers={"location": "/new-rss"})

    server.routes["/new-rss"] = server.routes["/rss"]
    server.routes["/rss"] = moved
    source.etag = None
    polled = await store.poll(db, source, http)
    assert polled.ok and source.url == server.url("/new-rss")


async def test_not_modified_answers_written_at_once_are_written_as_one_by_one(db):
    """The poller writes a burst of 304s in one statement (:func:`store.record_unchanged`),
    without loading the sources: what it writes is what :func:`store.record` writes."""
    now = utcnow().replace(microsecond=0)
    states = [
        {},  # healthy
        {"last_error": "The feed has an error at line 3.", "hint_seconds": 7200},  # a remark
        {
            "failures": 4,
            "failing_since": now - timedelta(days=2),
            "last_error": "The server is not working right now (HTTP %(status)s).",
            "last_error_params": '{"status": 503}',
        },
    ]
    answer = store.Retrieved(
        store.Fetched(
            url="",
            moved_to=None,
            not_modified=True,
            body=b"",
            content_type="",
            validators=store.Validators('"v2"', "Sun, 06 Dec 2026 08:00:00 GMT"),
            max_age=5400.0,
        )
    )
    made = [
        FeedSource(url=f"https://example.org/{way}/{n}", etag='"v1"', **state)
        for way in ("one", "all")
        for n, state in enumerate(states)
    ]
    gone = FeedSource(url="https://example.org/deleted")
    db.add_all([*made, gone])
    await db.flush()
    one_by_one, at_once = made[: len(states)], made[len(states) :]
    for source in one_by_one:
        assert (await store.record(db, [(source, answer)], now=now))[0].not_modified
    assert answer.fetched is not None
    hints = {source.id: source.hint_seconds for source in [*at_once, gone]}
    await db.delete(gone)
    await db.flush()
    written = await store.record_unchanged(
        db, [(s.id, answer.fetched, hints[s.id]) for s in [*at_once, gone]], now
    )
    assert [polled.source_id for polled in written] == [source.id for source in at_once]
    assert all(polled.ok and polled.not_modified for polled in written)
    await db.commit()
    db.expire_all()
    columns = [
        c.key for c in FeedSource.__table__.columns if c.key not in ("id", "url", "created_at")
    ]
    for alone, together in zip(one_by_one, at_once, strict=True):
        await db.refresh(alone)
        await db.refresh(together)
        assert {c: getattr(together, c) for c in columns} == {c: getattr(alone, c) for c in columns}
    assert [source.last_error for source in at_once] == [None, states[1]["last_error"], None]
    assert at_once[1].next_poll_at == now + timedelta(seconds=7200)


async def test_the_feeds_of_a_batch_are_stored_together_each_for_its_own_source(db):
    """One query and one insert for a whole batch of polls: the same entry in two feeds is
    kept for each, an entry twice in one feed once, an edited one replaced, and each poll
    counts its own."""

    def feed(*items: tuple[str, str]) -> store.Retrieved:
        body = "".join(
            f"<item><guid isPermaLink='false'>{k}</guid><title>{t}</title></item>" for k, t in items
        )
        xml = f'<rss version="2.0"><channel><title>F</title>{body}</channel></rss>'
        fetched = store.Fetched(
            url="https://example.org/feed",
            moved_to=None,
            not_modified=False,
            body=b"",
            content_type="",
            validators=store.Validators(),
            max_age=None,
        )
        return store.Retrieved(fetched, parse(xml.encode(), url="https://example.org/feed"))

    now = utcnow()
    ada, bob = FeedSource(url="https://a.example/feed"), FeedSource(url="https://b.example/feed")
    db.add_all([ada, bob])
    await db.flush()
    first = await store.record(db, [(ada, feed(("1", "One"), ("2", "Two")))], now=now)
    assert first[0].stored == store.Stored(new=2, updated=0)

    polls = await store.record(
        db,
        [
            (ada, feed(("1", "One, edited"), ("2", "Two"), ("3", "Three"))),
            (bob, feed(("1", "One"), ("1", "One again"), ("4", "Four"))),
        ],
        now=now,
    )
    assert [polled.stored for polled in polls] == [
        store.Stored(new=1, updated=1),
        store.Stored(new=2, updated=0),
    ]
    rows = (
        await db.execute(
            select(FeedEntry.source_id, FeedEntry.guid, FeedEntry.title).order_by(
                FeedEntry.source_id, FeedEntry.guid
            )
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (ada.id, "1", "One, edited"),
        (ada.id, "2", "Two"),
        (ada.id, "3", "Three"),
        (bob.id, "1", "One"),
        (bob.id, "4", "Four"),
    ]
