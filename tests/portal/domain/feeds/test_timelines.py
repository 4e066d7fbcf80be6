"""A person's own linked accounts as sources of their feed: a Mastodon home timeline read with
the account's token (faked with respx from recorded answers of a real server: none runs here),
polled by the poller like any feed, and never shared with another reader."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors._addresses import AddressPolicy
from portal.config import Settings
from portal.crypto import Vault, generate_key
from portal.domain.feeds import opml, sources, statuses, store, timelines
from portal.domain.feeds.poller import Poller
from portal.errors import InvalidInput
from portal.storage.models import (
    FeedEntry,
    FeedSource,
    FeedSubscription,
    LinkedAccount,
    Notification,
    User,
    utcnow,
)
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.portal.domain.people import person

DATA = Path(__file__).resolve().parents[3] / "testdata" / "mastodon"
SERVER = "mastodon.example"
HOME = f"https://{SERVER}/api/v1/timelines/home"
VAULT = Vault([generate_key()])


def _recorded(name: str) -> tuple[Any, dict[str, str]]:
    meta = json.loads((DATA / f"{name}.headers.json").read_text())
    keep = ("content-type", "www-authenticate", "x-ratelimit-reset", "cache-control")
    headers = {k: v for k, v in meta["headers"].items() if k.lower() in keep}
    return json.loads((DATA / f"{name}.json").read_text()), headers


STATUSES, HEADERS = _recorded("live_timelines_home")


def _statuses(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` statuses of the recorded timeline, newest first, with ids from ``first``
    down (a recorded one each, in turn, as the server writes them)."""
    made = []
    for n in range(count):
        status = copy.deepcopy(STATUSES[n % len(STATUSES)])
        status["id"] = str(first - n)
        status["uri"] = f"https://{SERVER}/users/x/statuses/{first - n}"
        status["url"] = f"https://{SERVER}/@x/{first - n}"
        made.append(status)
    return made


def _shown(statuses: list[dict[str, Any]]) -> int:
    return sum(status["visibility"] != "direct" for status in statuses)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def _linked(db: AsyncSession, owner: User, token: str = "the-token") -> LinkedAccount:
    account = LinkedAccount(
        user_id=owner.id,
        network="mastodon",
        handle=f"ada@{SERVER}",
        server=SERVER,
        status="verified",
        verified_by="oauth",
        secrets=VAULT.encrypt_json({"access_token": token, "extra": {"server": SERVER}}),
    )
    db.add(account)
    await db.flush()
    await timelines.set_timeline(db, account)
    await db.commit()
    return account


def _poller(sessionmaker: Any) -> Poller:
    return Poller(sessionmaker, vault=VAULT)


async def _source(db: AsyncSession, account: LinkedAccount) -> FeedSource:
    found = await db.scalar(
        select(FeedSource)
        .where(FeedSource.account_id == account.id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def _entries(db: AsyncSession, source: FeedSource) -> int:
    return int(await db.scalar(select(func.count()).where(FeedEntry.source_id == source.id)) or 0)


async def _due_now(db: AsyncSession, source: FeedSource) -> None:
    source.next_poll_at = utcnow() - timedelta(seconds=1)
    await db.commit()


async def test_the_home_timeline_is_read_page_by_page_then_from_the_newest_seen(
    db, sessionmaker, mock
):
    """The first poll reads the newest page and the older one its Link names, with the
    account's token; the next poll asks only for what is newer than the newest status seen."""
    owner = await person(db, "Ada")
    account = await _linked(db, owner)
    first, second = _statuses(1000, 40), _statuses(960, 5)
    newer = _statuses(1002, 2)
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        query = request.url.params
        if query.get("since_id") == "1000":
            return httpx.Response(200, json=newer, headers=HEADERS)
        if query.get("max_id") == "961":
            return httpx.Response(200, json=second, headers=HEADERS)
        link = f'<{HOME}?max_id=961>; rel="next", <{HOME}?min_id=1000>; rel="prev"'
        return httpx.Response(200, json=first, headers={**HEADERS, "link": link})

    mock.get(HOME).mock(side_effect=answer)
    done = await _poller(sessionmaker).round()

    source = await _source(db, account)
    assert done.polled == 1 and done.new == _shown(first) + _shown(second)
    assert len(asked) == 2 and "since_id" not in asked[0].url.params
    assert all(request.headers["authorization"] == "Bearer the-token" for request in asked)
    assert source.cursor == "1000"
    assert "the-token" not in json.dumps([source.url, source.title, source.etag])
    assert await _entries(db, source) == _shown(first) + _shown(second)
    entry = await db.scalar(select(FeedEntry).where(FeedEntry.guid.like("%/1000")))
    assert entry is not None
    assert entry.link == f"https://{SERVER}/@x/1000"
    assert entry.author == "John Lennon" and "Toot!" in entry.html

    await _due_now(db, source)
    done = await _poller(sessionmaker).round()
    assert asked[-1].url.params["since_id"] == "1000"
    assert done.new == _shown(newer)
    assert (await _source(db, account)).cursor == "1002"


async def test_a_revoked_token_pauses_the_timeline_and_asks_to_reconnect(db, sessionmaker, mock):
    """A 401 (a real server's answer to a token it does not know): the account needs
    reconnecting, its owner is told once, the source waits; reconnecting starts it again."""
    owner = await person(db, "Ada")
    account = await _linked(db, owner)
    body, headers = _recorded("live_error_401_timelines_home")
    mock.get(HOME).mock(return_value=httpx.Response(401, json=body, headers=headers))

    done = await _poller(sessionmaker).round()
    assert done.failed == 1
    source = await _source(db, account)
    assert source.paused_at is not None
    await db.refresh(account)
    assert account.status == "needs_reconnect"
    told = await db.scalar(
        select(func.count()).where(
            Notification.user_id == owner.id, Notification.kind == "needs_reconnect"
        )
    )
    assert told == 1
    assert (await _poller(sessionmaker).round(every=True)).polled == 0

    await timelines.set_timeline(db, account)  # checked again, still not accepted: kept
    assert (await _source(db, account)).paused_at is not None
    account.status = "verified"  # connected again
    await timelines.set_timeline(db, account)
    await db.commit()
    assert (await _source(db, account)).paused_at is None


async def test_a_server_that_asks_to_wait_is_left_alone_that_long(db, sessionmaker, mock):
    """A 429 with ``Retry-After``: the next poll comes no sooner."""
    owner = await person(db, "Ada")
    account = await _linked(db, owner)
    body = json.loads((DATA / "error_429.json").read_text())
    mock.get(HOME).mock(
        return_value=httpx.Response(429, json=body, headers={"retry-after": "3600"})
    )
    done = await _poller(sessionmaker).round()
    source = await _source(db, account)
    assert done.failed == 1 and source.paused_at is None
    assert source.next_poll_at >= utcnow() + timedelta(minutes=59)
    assert source.last_error == "The server asks us to fetch less often."


async def test_a_timeline_is_its_owners_alone(db, sessionmaker):
    """The source belongs to the account: only its owner is subscribed, marked with the
    network; no one finds it by its address or follows it; it is not in the owner's list of
    feeds; unlinking takes it away."""
    owner, other = await person(db, "Ada"), await person(db, "Bob")
    account = await _linked(db, owner)
    source = await _source(db, account)

    readers = (await db.execute(select(FeedSubscription.user_id, FeedSubscription.network))).all()
    assert [tuple(row) for row in readers] == [(owner.id, "mastodon")]
    assert await store.source_at(db, source.url) is None
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidInput):
            await store.subscribe(db, other, source.url, http=http)
    assert await store.outlines(db, owner) == []
    assert opml.read(await sources.export_opml(db, owner, title="Mine")).feeds == ()

    await timelines.forget_account(db, account)
    await db.delete(account)
    await db.flush()
    assert await db.scalar(select(func.count()).select_from(FeedSource)) == 0


async def test_accounts_linked_before_are_given_their_timeline_once(db):
    """An account proven before timelines were kept gets its source from the operator's
    backfill; an account only typed in, or one already given it, does not."""
    owner = await person(db, "Ada")
    account = await _linked(db, owner)
    await timelines.forget_account(db, account)
    typed = LinkedAccount(user_id=owner.id, network="mastodon", handle=f"bob@{SERVER}")
    db.add(typed)
    await db.flush()
    assert await timelines.fill_missing(db, batch=1) == 1
    assert (await _source(db, account)).url == timelines.private_url(account.id, "home")
    assert await timelines.fill_missing(db) == 0


def test_statuses_show_boosts_warnings_and_pictures():
    """A boost shows the post boosted under who boosted it; a content warning folds the text;
    the first picture is the entry's; a private mention is no entry."""
    original = json.loads((DATA / "status.json").read_text())
    boost = copy.deepcopy(STATUSES[1])
    boost["reblog"] = original
    entry = statuses.status_entry(boost)
    assert entry is not None
    assert entry.link == original["url"]
    assert entry.author == "Eugen" and "🔁" in entry.html
    warned = copy.deepcopy(STATUSES[0]) | {"spoiler_text": "spoilers"}
    warned["media_attachments"] = [
        {"type": "image", "url": f"https://{SERVER}/a.png", "preview_url": None}
    ]
    shown = statuses.status_entry(warned)
    assert shown is not None
    assert "<summary>spoilers</summary>" in shown.html and shown.image == f"https://{SERVER}/a.png"
    assert statuses.status_entry(STATUSES[2]) is None  # direct


# -- Bluesky: the accounts followed ---------------------------------------------------------------


async def _follow(network: Any, follower: Any, followed: Any) -> str:
    made = await network.xrpc(
        "com.atproto.repo.createRecord",
        {
            "repo": follower.did,
            "collection": "app.bsky.graph.follow",
            "record": {
                "$type": "app.bsky.graph.follow",
                "subject": followed.did,
                "createdAt": "2026-12-06T09:00:00.000Z",
            },
        },
        token=follower.access_jwt,
    )
    rkey: str = made["uri"].rsplit("/", 1)[1]
    return rkey


async def test_the_accounts_a_bluesky_account_follows_come_into_its_owners_feed(
    db, sessionmaker, atproto_network
):
    """Bob's linked Bluesky account follows Ada there: after a poll Bob reads Ada's posts, as
    a subscription of his marked ``bluesky``; once he unfollows her there, the next poll ends
    it. Alice, who links nothing, reads none of it."""
    ada = await atproto_network.create_account("ada")
    bob = await atproto_network.create_account("bob")
    await atproto_network.xrpc(
        "com.atproto.repo.createRecord",
        {
            "repo": ada.did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "Notes on the analytical engine",
                "createdAt": "2026-12-06T09:00:00.000Z",
            },
        },
        token=ada.access_jwt,
    )
    rkey = await _follow(atproto_network, bob, ada)
    owner, alice = await person(db, "Bob"), await person(db, "Alice")
    account = LinkedAccount(
        user_id=owner.id,
        network="bluesky",
        handle=bob.handle,
        external_id=bob.did,
        status="verified",
        verified_by="password",
        secrets=VAULT.encrypt_json(
            {"access_token": "", "extra": {"did": bob.did, "pds": atproto_network.pds_url}}
        ),
    )
    db.add(account)
    await db.flush()
    await timelines.set_timeline(db, account)
    await db.commit()
    context = base.Context(
        addresses=AddressPolicy(allow_loopback=True), resolver=atproto_network.resolver
    )
    polling = Poller(sessionmaker, allow_loopback=True, vault=VAULT, context=context)

    await polling.round()  # the follow list: Ada's posts become Bob's
    await polling.round()  # Ada's posts, read as a feed
    rows = (
        await db.execute(
            select(FeedSubscription.network, FeedSource.url, FeedSubscription.user_id)
            .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
            .where(FeedSource.account_id.is_(None))
            .execution_options(populate_existing=True)
        )
    ).all()
    assert [(network, user) for network, _, user in rows] == [("bluesky", owner.id)]
    assert f"repo={ada.did.replace(':', '%3A')}" in rows[0][1]
    texts = list(await db.scalars(select(FeedEntry.text)))
    assert any("analytical engine" in text for text in texts)

    await atproto_network.xrpc(
        "com.atproto.repo.deleteRecord",
        {"repo": bob.did, "collection": "app.bsky.graph.follow", "rkey": rkey},
        token=bob.access_jwt,
    )
    await polling.round(every=True)
    left = await db.scalar(
        select(func.count())
        .select_from(FeedSubscription)
        .where(FeedSubscription.via_account_id == account.id)
    )
    assert left == 0
    assert await db.scalar(select(func.count()).select_from(FeedEntry)) == 0  # nobody reads it
    assert alice.id not in set(await db.scalars(select(FeedSubscription.user_id)))


@pytest.fixture
def settings(atproto_network: Any) -> Settings:
    return make_settings(
        atproto_plc_url=atproto_network.plc_url,
        atproto_resolver_url=atproto_network.pds_url,
        connectors_allow_loopback=True,
    )


async def test_linking_a_bluesky_account_adds_its_follows_and_unlinking_takes_them_away(
    client, db, atproto_network
):
    """Through the API: a Bluesky account linked with an app password is at once a private
    source of its owner's feed, due, marked ``bluesky``; unlinked, it is gone."""
    sky = await atproto_network.create_account("cy")
    body = await api_sign_up(client, email="cy@example.org", display_name="Cy")
    headers = {"authorization": f"Bearer {await api_token(client, email='cy@example.org')}"}
    linked = await client.post(
        "/api/v1/me/accounts",
        json={
            "network": "bluesky",
            "handle": sky.handle,
            "password": await atproto_network.create_app_password(sky),
        },
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    owner = await db.scalar(select(User).where(User.number == str(body["number"])))
    assert owner is not None
    rows = (
        await db.execute(
            select(FeedSource.url, FeedSource.kind, FeedSubscription.network)
            .join(FeedSubscription, FeedSubscription.source_id == FeedSource.id)
            .where(FeedSubscription.user_id == owner.id, FeedSource.account_id.is_not(None))
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (f"account:{linked.json()['id']}:follows", "follows", "bluesky")
    ]

    gone = await client.delete(f"/api/v1/me/accounts/{linked.json()['id']}", headers=headers)
    assert gone.status_code == 204
    left = await db.scalar(
        select(func.count())
        .select_from(FeedSource)
        .where(FeedSource.account_id.is_not(None))
        .execution_options(populate_existing=True)
    )
    assert left == 0


def test_a_timeline_is_fetched_in_the_pool_of_the_server_it_reads():
    """The poller's per-host pools: a Mastodon account's instance, a Bluesky account's PDS."""
    home = timelines.Reader(1, "home", "mastodon", f"ada@{SERVER}", SERVER, None, None)
    assert home.origin == f"https://{SERVER}"
    pds = "https://morel.us-east.host.bsky.network"
    follows = timelines.Reader(
        2, "follows", "bluesky", "ada.example", "", None, None, home=f"{pds}/xrpc/x?repo=did:plc:a"
    )
    assert follows.origin == pds


async def test_a_follow_list_that_is_no_list_unfollows_nobody(mock):
    """A PDS answering without its records is a failed read, not an empty list of follows,
    which would take every followed account out of the owner's feed."""
    mock.get("https://pds.example/xrpc/com.atproto.repo.listRecords").respond(
        200, json={"records": "none today"}
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="without its records"):
            await timelines._followed(http, "https://pds.example", "did:plc:ada")
