"""A reader's own feeds in the real database: the list with health, a title and folder of
their own, unsubscribing (a source nobody reads is deleted with its entries, one still read or
named by a linked account is kept), OPML imported without fetching, and refused input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from portal.domain.feeds import opml, sources
from portal.errors import InvalidInput, NotFound
from portal.storage.models import FeedEntry, FeedSource, FeedSubscription, utcnow
from tests.portal.domain import people
from tests.portal.domain.feeds.test_read import a_source, add_entries, subscribe


async def _count(db, model) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_list_says_how_each_feed_is_doing(db):
    ada = await people.person(db, "Ada")
    ok, failing = await a_source(db, "Zeta"), await a_source(db, "Alpha")
    failing.last_error = "The server is not working right now (HTTP %(status)s)."
    failing.last_error_params = json.dumps({"status": 503})
    failing.failures, failing.paused_at = 3, utcnow()
    await subscribe(db, ada, ok, folder="News")
    await subscribe(db, ada, failing)
    listed = await sources.list_sources(db, ada)
    assert [s.title for s in listed] == ["Alpha", "Zeta"]  # by folder, then title
    assert listed[0].health.last_error == failing.last_error
    assert listed[0].health.error_params == {"status": 503}
    assert listed[0].health.paused and listed[0].health.failures == 3
    assert listed[1].health.last_error is None and listed[1].folder == "News"


async def test_a_title_and_a_folder_of_my_own(db):
    ada = await people.person(db, "Ada")
    blog = await a_source(db, "Feed title")
    await subscribe(db, ada, blog)
    renamed = await sources.update_source(db, ada, blog.id, title="  Mine  ", folder=" A  b ")
    assert (renamed.title, renamed.own_title, renamed.folder) == ("Mine", "Mine", "A b")
    back = await sources.update_source(db, ada, blog.id, title="")
    assert back.title == "Feed title" and back.folder == "A b"
    with pytest.raises(InvalidInput, match="at most 100"):
        await sources.update_source(db, ada, blog.id, folder="x" * 101)
    with pytest.raises(InvalidInput, match="at most 500"):
        await sources.update_source(db, ada, blog.id, title="x" * 501)


async def test_ids_i_do_not_subscribe_to_are_unknown_alike(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    theirs = await a_source(db)
    await subscribe(db, bob, theirs)
    for source_id in (theirs.id, theirs.id + 1000):
        with pytest.raises(NotFound) as unknown:
            await sources.update_source(db, ada, source_id, title="x")
        assert unknown.value.message == sources.NO_SOURCE
        with pytest.raises(NotFound):
            await sources.unsubscribe(db, ada, source_id)


async def test_a_feed_nobody_reads_goes_with_its_entries_and_a_shared_one_stays(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    shared, alone, named = await a_source(db), await a_source(db), await a_source(db)
    for source in (shared, alone, named):
        await subscribe(db, ada, source)
        await add_entries(db, source, ["one", "two"])
    await subscribe(db, bob, shared)
    account = await people.account(db, bob, "mastodon", "bob")
    account.feed_source_id = named.id
    await db.flush()
    for source in (shared, alone, named):
        await sources.unsubscribe(db, ada, source.id)
    left = set(await db.scalars(select(FeedSource.id)))
    assert left == {shared.id, named.id}
    assert await _count(db, FeedEntry) == 4
    assert await sources.list_sources(db, ada) == []


async def test_an_opml_list_is_followed_without_fetching_and_twice_is_once(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    known = await a_source(db, "Known")
    await subscribe(db, bob, known)
    document = opml.write(
        "x",
        [
            opml.Outline(known.url, "Theirs", "Friends"),
            opml.Outline("https://new.example/feed", "New", None, "javascript:alert(1)"),
            opml.Outline("https://new.example/feed", "New again", "Twice"),  # listed twice
        ],
    )
    report = await sources.import_opml(db, ada, document)
    assert report == sources.ImportReport(added=2, already=0, unreadable=0)
    again = await sources.import_opml(db, ada, document)
    assert again == sources.ImportReport(added=0, already=2, unreadable=0)
    new = await db.scalar(select(FeedSource).where(FeedSource.url == "https://new.example/feed"))
    assert new is not None and new.site_url is None and new.last_polled_at is None
    assert new.next_poll_at <= utcnow()  # due at once, for the poller
    folders = dict(
        (
            await db.execute(
                select(FeedSubscription.source_id, FeedSubscription.folder).where(
                    FeedSubscription.user_id == ada.id
                )
            )
        ).all()
    )
    assert folders == {known.id: "Friends", new.id: ""}
    assert await _count(db, FeedSource) == 2
    exported = opml.read(await sources.export_opml(db, ada, title="Mine"))
    assert {f.url for f in exported.feeds} == {known.url, "https://new.example/feed"}
    with pytest.raises(InvalidInput, match="not an OPML"):
        await sources.import_opml(db, ada, b"<rss/>")
