"""Who polls the feeds: the server itself in the embedded default, ``portal worker`` processes
otherwise, as a job of the durable queue; the server's loop starts with it and stops with it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from portal.app import create_app
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.deps import feed_poller, job_worker
from portal.domain.feeds import poller
from portal.storage import migrate
from portal.storage.models import FeedSource, utcnow
from portal.storage.posts import Job
from tests.fixtures.app import make_settings
from tests.fixtures.database import Databases
from tests.fixtures.feeds import serving, static


def test_the_server_polls_with_sqlite_and_leaves_it_to_workers_with_postgresql() -> None:
    assert make_settings(feed_poller=None).feed_poller_mode == "inline"
    postgres = make_settings(feed_poller=None, database_url="postgresql://u@db/portal")
    assert postgres.feed_poller_mode == "worker"
    assert make_settings(feed_poller="off").feed_poller_mode == "off"
    assert make_settings().feed_poller_mode == "off"  # tests' apps poll only when asked


async def test_the_inline_poller_runs_while_the_server_does(databases: Databases) -> None:
    url = await databases.new("inline")
    engine = make_engine(url)
    rss = b'<rss version="2.0"><channel><title>Inline</title><item><guid>1</guid></item></channel>'
    rss += b"</rss>"
    try:
        await migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with serving({"/rss": static(rss)}) as feeds:
            async with session_scope(sessions) as session:
                session.add(FeedSource(url=feeds.url("/rss"), next_poll_at=utcnow()))
            app = create_app(
                make_settings(
                    database_url=url, feed_poller="inline", connectors_allow_loopback=True
                )
            )
            async with app.router.lifespan_context(app):
                title = ""
                async with asyncio.timeout(10):
                    while title != "Inline":
                        await asyncio.sleep(0.05)
                        async with session_scope(sessions) as session:
                            title = await session.scalar(select(FeedSource.title)) or ""
            assert app.state.polling.done()
            async with session_scope(sessions) as session:
                source = await session.scalar(select(FeedSource))
            assert source is not None and source.next_poll_at > utcnow() + timedelta(minutes=10)
    finally:
        await engine.dispose()


async def test_polling_is_a_job_of_the_queue_that_comes_back(databases: Databases) -> None:
    url = await databases.new("polljob")
    engine = make_engine(url)
    rss = b'<rss version="2.0"><channel><title>Queued</title><item><guid>1</guid></item></channel>'
    rss += b"</rss>"
    try:
        await migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        settings = make_settings(database_url=url, connectors_allow_loopback=True)
        async with serving({"/rss": static(rss)}) as feeds:
            async with session_scope(sessions) as session:
                session.add(FeedSource(url=feeds.url("/rss"), next_poll_at=utcnow()))
            polling = feed_poller(settings, sessions)
            worker = job_worker(settings, sessions, publishing=False, polling=polling)
            try:
                await poller.schedule(sessions)
                await poller.schedule(sessions)  # once is enough: still one job
                assert await worker.run_due() == 1
            finally:
                polling.close()
        async with session_scope(sessions) as session:
            assert await session.scalar(select(FeedSource.title)) == "Queued"
            (job,) = (await session.scalars(select(Job))).all()
        assert (job.kind, job.leased_until) == (poller.POLL, None)
        assert utcnow() < job.run_at <= utcnow() + timedelta(seconds=poller.IDLE)
    finally:
        await engine.dispose()
