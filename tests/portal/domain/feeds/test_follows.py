"""Following a number, end to end: each linked account's public feed kept as a shared
source, polled, and read by the number's followers as long as the owner shows it to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors._addresses import AddressPolicy
from connectors.base import Context
from portal.config import Settings
from portal.domain import linking
from portal.domain.feeds import accounts as feed_accounts
from portal.domain.feeds import follows, poller, store
from portal.net import guarded_client
from portal.storage.models import (
    FeedEntry,
    FeedSource,
    FeedSubscription,
    LinkedAccount,
    User,
    utcnow,
)
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.fixtures.atproto import AtprotoNetwork
from tests.fixtures.feeds import FeedServer, serving, static
from tests.portal.domain.people import person

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Ada writes</title>'
    b"<link>https://ada.example.org/</link>"
    b"<item><guid>one</guid><title>On engines</title><link>https://ada.example.org/engines</link>"
    b"<description>Notes</description>"
    b"<pubDate>Sun, 06 Dec 2026 08:00:00 GMT</pubDate></item></channel></rss>"
)
PAGE = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'


@pytest.fixture
async def site() -> AsyncIterator[FeedServer]:
    """A website whose page names its feed."""
    routes = {
        "/": static(PAGE, {"content-type": "text/html"}),
        "/rss": static(RSS, {"content-type": "application/rss+xml"}),
    }
    async with serving(routes) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as client:
        yield client


async def _sources(db: AsyncSession) -> list[FeedSource]:
    """The shared sources (a proven Bluesky account has a private one too: its follows)."""
    shared = select(FeedSource).where(FeedSource.account_id.is_(None)).order_by(FeedSource.id)
    return list((await db.scalars(shared)).all())


# -- an account's feed, kept as its handle changes ---------------------------------------------


async def test_linking_makes_a_shared_source_due_at_once_without_fetching(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    before = utcnow()
    mine = await linking.add_handle(db, ada, "github", "https://github.com/Octocat")
    theirs = await linking.add_handle(db, bob, "github", "@octocat")
    assert mine.feed_source_id is not None and mine.feed_source_id == theirs.feed_source_id
    (source,) = await _sources(db)
    assert source.url == "https://github.com/octocat.atom"
    assert source.last_polled_at is None and source.next_poll_at <= utcnow()
    assert source.next_poll_at >= before - timedelta(seconds=1)
    assert [c.id for c in await poller.claim(db, utcnow())] == [source.id]


async def test_a_changed_handle_moves_to_its_feed_and_the_unread_one_goes(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    mine = await linking.add_handle(db, ada, "github", "ada")
    await linking.add_handle(db, bob, "medium", "ada")
    shared = await linking.add_handle(db, bob, "github", "ada")
    first = mine.feed_source_id
    await linking.change_handle(db, ada, mine.id, "ada-lovelace")
    assert (await db.get(FeedSource, mine.feed_source_id)).url == (  # type: ignore[union-attr]
        "https://github.com/ada-lovelace.atom"
    )
    assert await db.get(FeedSource, first) is not None  # Bob still reads it
    await linking.change_handle(db, bob, shared.id, "bob")
    db.expire_all()
    assert await db.get(FeedSource, first) is None  # nobody reads it any more
    urls = {source.url for source in await _sources(db)}
    assert urls == {
        "https://github.com/ada-lovelace.atom",
        "https://github.com/bob.atom",
        "https://medium.com/feed/@ada",
    }


async def test_accounts_linked_before_feeds_were_kept_are_given_theirs(db):
    ada = await person(db, "Ada")
    github = LinkedAccount(user_id=ada.id, network="github", handle="ada")
    sky = LinkedAccount(
        user_id=ada.id, network="bluesky", handle="ada.example.org", external_id="did:plc:x"
    )
    x = LinkedAccount(user_id=ada.id, network="x", handle="ada")
    db.add_all([github, sky, x])
    await db.flush()
    known = {sky.id: {"did": "did:plc:x", "pds": "https://pds.example.org"}}
    filled = await feed_accounts.fill_missing(db, lambda a: known.get(a.id), batch=2)
    assert filled == 2 and x.feed_source_id is None
    names = {s.url: s.title for s in await _sources(db)}
    assert names == {
        "https://github.com/ada.atom": "GitHub @ada",
        "https://pds.example.org/xrpc/com.atproto.repo.listRecords?repo=did%3Aplc%3Ax"
        "&collection=app.bsky.feed.post&limit=50": "Bluesky @ada.example.org",
    }
    assert await feed_accounts.fill_missing(db, lambda a: None) == 0


async def test_a_handle_with_no_feed_clears_the_accounts_feed(db):
    ada = await person(db, "Ada")
    account = await linking.add_handle(db, ada, "x", "ada")
    assert account.feed_source_id is None
    feed = await linking.add_handle(db, ada, "github", "ada")
    kept = feed.feed_source_id
    account.feed_source_id = kept  # as if X had once had a feed for it
    await feed_accounts.set_feed(db, account)
    assert account.feed_source_id is None
    assert await db.get(FeedSource, kept) is not None  # the GitHub account reads it still


# -- a page given for its feed -------------------------------------------------------------------


async def test_a_websites_source_moves_to_the_feed_its_page_names(db, site, http):
    ada = await person(db, "Ada")
    local = Context(addresses=AddressPolicy(allow_loopback=True))
    account = await linking.add_handle(db, ada, "website", site.url("/"), context=local)
    (source,) = await _sources(db)
    assert source.url == site.url("/") and site.requests == []  # nothing fetched yet
    polled = await store.poll(db, source, http)
    assert polled.ok and polled.stored.new == 1
    assert source.url == site.url("/rss") and source.title == "Ada writes"
    assert account.feed_source_id == source.id


async def test_a_page_whose_feed_is_read_already_joins_its_source(db, site, http):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    await store.subscribe(db, bob, site.url("/rss"), http=http)
    (feed,) = await _sources(db)
    local = Context(addresses=AddressPolicy(allow_loopback=True))
    account = await linking.add_handle(db, ada, "website", site.url("/"), context=local)
    page = await db.get(FeedSource, account.feed_source_id)
    assert page is not None and page.id != feed.id
    account_id, feed_id = account.id, feed.id
    polled = await store.poll(db, page, http)
    assert polled.ok and polled.source_id == feed_id
    db.expire_all()
    assert [source.id for source in await _sources(db)] == [feed_id]
    reading = await db.scalar(
        select(LinkedAccount.feed_source_id).where(LinkedAccount.id == account_id)
    )
    assert reading == feed_id
    count = await db.scalar(select(func.count()).select_from(FeedSubscription))
    assert count == 1


async def test_a_page_that_names_no_feed_fails_as_such(db, http):
    async with serving(
        {"/": static(b"<html><head></head><body>hi", {"content-type": "text/html"})}
    ) as server:
        source = FeedSource(url=server.url("/"), next_poll_at=utcnow())
        db.add(source)
        await db.flush()
        polled = await store.poll(db, source, http)
    assert not polled.ok and source.failures == 1
    assert source.last_error == "There is no feed at this address, and the page names none."


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def settings(atproto_network: AtprotoNetwork) -> Settings:
    return make_settings(
        atproto_plc_url=atproto_network.plc_url,
        atproto_resolver_url=atproto_network.pds_url,
        connectors_allow_loopback=True,
    )


async def _person(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    email = f"{name.lower()}@example.org"
    body = await api_sign_up(client, email=email, display_name=name)
    token = await api_token(client, email=email)
    return str(body["number"]), {"authorization": f"Bearer {token}"}


async def _read(db: AsyncSession, viewer: User) -> set[tuple[str, str]]:
    """What ``viewer`` reads through the people they follow: (network, entry link)."""
    db.expire_all()
    await db.refresh(viewer)
    visible = follows.visible_sources(viewer).subquery()
    rows = await db.execute(
        select(visible.c.network, FeedEntry.link).join(
            FeedEntry, FeedEntry.source_id == visible.c.source_id
        )
    )
    return {(network, link) for network, link in rows.all()}


async def test_following_a_number_reads_its_accounts_feeds_as_long_as_they_are_shown(
    client, db, site, http, atproto_network
):
    ada_number, as_ada = await _person(client, "Ada")
    bob_number, as_bob = await _person(client, "Bob")
    linked_site = await client.post(
        "/api/v1/me/accounts", json={"network": "website", "handle": site.url("/")}, headers=as_ada
    )
    assert linked_site.status_code == 201, linked_site.text
    sky = await atproto_network.create_account("ada", display_name="Ada Lovelace")
    posted = await atproto_network.xrpc(
        "com.atproto.repo.createRecord",
        {
            "repo": sky.did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "Hello from the analytical engine",
                "createdAt": "2026-12-06T09:00:00.000Z",
            },
        },
        token=sky.access_jwt,
    )
    linked_sky = await client.post(
        "/api/v1/me/accounts",
        json={
            "network": "bluesky",
            "handle": sky.handle,
            "password": await atproto_network.create_app_password(sky),
        },
        headers=as_ada,
    )
    assert linked_sky.status_code == 201, linked_sky.text

    for claimed in await poller.claim(db, utcnow()):
        if claimed.reader is not None:
            continue  # the account's own timeline: the poller's to read
        source = await db.get_one(FeedSource, claimed.id)
        assert (await store.poll(db, source, http)).ok, source.last_error
    await db.commit()

    followed = await client.post("/api/v1/follows", json={"number": ada_number}, headers=as_bob)
    assert followed.status_code == 201, followed.text
    bob = await db.scalar(select(User).where(User.number == bob_number))
    assert bob is not None
    rkey = posted["uri"].rsplit("/", 1)[1]
    titles = {source.title for source in await _sources(db)}
    assert titles == {"Ada writes", f"Bluesky @{sky.handle}"}  # a post list names no one
    assert await _read(db, bob) == {
        ("website", "https://ada.example.org/engines"),
        ("bluesky", f"https://bsky.app/profile/{sky.did}/post/{rkey}"),
    }

    narrowed = await client.patch(
        f"/api/v1/me/accounts/{linked_sky.json()['id']}",
        json={"audience": "contacts"},
        headers=as_ada,
    )
    assert narrowed.status_code == 200, narrowed.text
    assert await _read(db, bob) == {("website", "https://ada.example.org/engines")}

    unlinked = await client.delete(
        f"/api/v1/me/accounts/{linked_site.json()['id']}", headers=as_ada
    )
    assert unlinked.status_code == 204
    assert await _read(db, bob) == set()
    # The feed nobody reads any more is gone; the narrowed account's stays for its audience.
    assert [s.url for s in await _sources(db)] == [
        atproto_network.pds_url
        + "/xrpc/com.atproto.repo.listRecords?repo="
        + sky.did.replace(":", "%3A")
        + "&collection=app.bsky.feed.post&limit=50"
    ]


def test_an_address_longer_than_a_source_keeps_gives_no_feed() -> None:
    long_site = LinkedAccount(network="website", handle="https://example.org/" + "a" * 2030)
    short_site = LinkedAccount(network="website", handle="https://example.org/blog")
    assert feed_accounts.address_of(long_site) is None
    assert feed_accounts.address_of(short_site) == "https://example.org/blog"
