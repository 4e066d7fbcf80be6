"""Reading the unified feed in the real database: what a viewer reads (their feeds and those of
the people they follow, as privacy allows now), its order and pages, every filter, search,
read and starred states, and what a page costs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import number as numbers
from portal.domain.feeds import read
from portal.errors import InvalidInput, NotFound
from portal.storage.models import (
    FeedEntry,
    FeedEntryState,
    FeedSource,
    FeedSubscription,
    Follow,
    LinkedAccount,
    User,
)
from tests.portal.domain import people
from tests.portal.domain.test_lookup_queries import counted

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_serial = itertools.count(1)


async def a_source(db: AsyncSession, title: str = "Blog") -> FeedSource:
    source = FeedSource(url=f"https://example.org/{next(_serial)}.xml", title=title)
    db.add(source)
    await db.flush()
    return source


async def add_entries(
    db: AsyncSession, source: FeedSource, titles: list[str], *, at: datetime = T0, step: int = 1
) -> list[FeedEntry]:
    made = [
        FeedEntry(
            source_id=source.id,
            key_hash=f"{source.id}-{next(_serial)}",
            title=title,
            text=f"{title} body",
            html=f"<p>{title}</p>",
            digest="d",
            sort_at=at + timedelta(minutes=i * step),
        )
        for i, title in enumerate(titles)
    ]
    db.add_all(made)
    await db.flush()
    return made


async def subscribe(
    db: AsyncSession, user: User, source: FeedSource, *, folder: str = "", title: str = ""
) -> None:
    db.add(FeedSubscription(user_id=user.id, source_id=source.id, folder=folder, title=title))
    await db.flush()


async def follow(db: AsyncSession, follower: User, owner: User) -> None:
    db.add(Follow(user_id=follower.id, owner_id=owner.id))
    await db.flush()


async def feed_of(
    db: AsyncSession, owner: User, network: str, source: FeedSource, audience: str = "public"
) -> LinkedAccount:
    account = await people.account(db, owner, network, f"{owner.display_name}-{network}", audience)
    account.feed_source_id = source.id
    await db.flush()
    return account


async def titles(db: AsyncSession, viewer: User, **filters: object) -> list[str]:
    page = await read.timeline(db, viewer, read.Filters(**filters), limit=200)  # type: ignore[arg-type]
    return [item.title for item in page.items]


async def everything(db: AsyncSession, viewer: User, limit: int) -> list[read.Item]:
    seen: list[read.Item] = []
    after = None
    while True:
        page = await read.timeline(db, viewer, after=after, limit=limit)
        seen += page.items
        if page.next_cursor is None:
            return seen
        after = read.position(page.next_cursor)


async def test_pages_go_newest_first_through_ties_without_losing_or_repeating_one(db):
    ada = await people.person(db, "Ada")
    one, two = await a_source(db), await a_source(db)
    await subscribe(db, ada, one)
    await subscribe(db, ada, two)
    made = await add_entries(db, one, [f"tie {i}" for i in range(7)], step=0)  # one instant
    made += await add_entries(db, two, [f"later {i}" for i in range(5)], at=T0 + timedelta(1))
    made += await add_entries(db, one, ["earlier"], at=T0 - timedelta(1))
    expected = [e.id for e in sorted(made, key=lambda e: (e.sort_at, e.id), reverse=True)]
    for size in (1, 3, 5, 13, 50):
        assert [item.id for item in await everything(db, ada, size)] == expected
    first = await read.timeline(db, ada, limit=len(made))
    assert first.next_cursor is None


@pytest.mark.parametrize(
    "cursor", ["", "x", "%%%", "bm90IGEgY3Vyc29y", read.Position(T0, 1).cursor()[:-3], "MjAyNnwx"]
)
def test_a_cursor_that_is_not_one_is_a_clear_refusal(cursor):
    with pytest.raises(InvalidInput, match="cursor is not valid"):
        read.position(cursor)


def test_a_cursor_holds_its_position():
    here = read.Position(T0 + timedelta(microseconds=7), 42)
    assert read.position(here.cursor()) == here


async def test_a_follow_brings_the_feeds_the_owner_shows_the_follower_now(db):
    ada = await people.person(db, "Ada")
    bob = await people.person(db, "Bob", name_audience="contacts")
    cat = await people.person(db, "Cat")
    bob_blog, bob_toots = await a_source(db, "B"), await a_source(db, "BT")
    bob_private = await a_source(db, "BP")
    await add_entries(db, bob_blog, ["blog post"], at=T0)
    await add_entries(db, bob_toots, ["toot"], at=T0 + timedelta(hours=1))
    await add_entries(db, bob_private, ["for friends"], at=T0 + timedelta(hours=2))
    await feed_of(db, bob, "website", bob_blog)
    toots = await feed_of(db, bob, "mastodon", bob_toots)
    await feed_of(db, bob, "bluesky", bob_private, audience="contacts")
    await follow(db, ada, bob)

    page = await read.timeline(db, ada)
    assert [i.title for i in page.items] == ["toot", "blog post"]
    toot = page.items[0]
    assert toot.network == "mastodon" and toot.account_id == toots.id
    assert toot.person == read.Person(bob.number, people_display(bob.number), None)
    assert toot.source_title == "BT" and not toot.read and not toot.starred

    await people.befriend(db, ada, bob)  # now a contact: the narrower feed and the name
    page = await read.timeline(db, ada)
    assert [i.title for i in page.items] == ["for friends", "toot", "blog post"]
    assert page.items[0].person is not None and page.items[0].person.display_name == "Bob"

    assert await titles(db, cat) == []  # following nobody, reading nothing
    await follow(db, cat, bob)
    bob.find_by_number = False  # a number that may not be found brings nothing
    await db.flush()
    assert await titles(db, cat) == []
    assert await titles(db, ada) == ["for friends", "toot", "blog post"]  # a contact finds him


def people_display(number: str) -> str:
    return numbers.display(number)


async def test_an_entry_read_two_ways_is_shown_once_with_my_title_and_the_person(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    shared = await a_source(db, "Bob's blog")
    await add_entries(db, shared, ["one", "two"])
    await feed_of(db, bob, "website", shared)
    await follow(db, ada, bob)
    await subscribe(db, ada, shared, title="My Bob", folder="Friends")
    page = await read.timeline(db, ada)
    assert [i.title for i in page.items] == ["two", "one"]
    assert all(i.source_title == "My Bob" and i.person for i in page.items)
    assert all(i.network == "website" for i in page.items)
    assert await titles(db, ada, network="feed") == ["two", "one"]
    assert await titles(db, ada, folder="Friends") == ["two", "one"]


async def test_every_filter(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    dan = await people.person(db, "Dan")
    news, recipes = await a_source(db, "News"), await a_source(db, "Recipes")
    toots, dans = await a_source(db, "Toots"), await a_source(db, "Dan's")
    await subscribe(db, ada, news, folder="Daily")
    await subscribe(db, ada, recipes, folder="Food")
    await feed_of(db, bob, "mastodon", toots)
    await feed_of(db, dan, "mastodon", dans)
    await follow(db, ada, bob)
    await follow(db, ada, dan)
    stranger = await a_source(db, "Not mine")
    await add_entries(db, stranger, ["elsewhere"], at=T0 + timedelta(days=3))
    [n1, n2] = await add_entries(db, news, ["n1", "n2"], at=T0)
    [r1] = await add_entries(db, recipes, ["r1"], at=T0 + timedelta(hours=1))
    [t1] = await add_entries(db, toots, ["t1"], at=T0 + timedelta(hours=2))
    await add_entries(db, dans, ["d1"], at=T0 + timedelta(hours=3))

    assert await titles(db, ada) == ["d1", "t1", "r1", "n2", "n1"]
    assert await titles(db, ada, network="feed") == ["r1", "n2", "n1"]
    assert await titles(db, ada, network="mastodon") == ["d1", "t1"]
    assert await titles(db, ada, network="bluesky") == []
    assert await titles(db, ada, number=bob.number) == ["t1"]
    assert await titles(db, ada, number=people_display(dan.number)) == ["d1"]
    assert await titles(db, ada, number=(await people.person(db, "X")).number) == []
    with pytest.raises(InvalidInput):
        await titles(db, ada, number="12")
    assert await titles(db, ada, source_id=news.id) == ["n2", "n1"]
    assert await titles(db, ada, source_id=stranger.id) == []
    assert await titles(db, ada, folder="Food") == ["r1"]
    assert await titles(db, ada, folder="Nothing") == []
    assert await titles(db, ada, folder="Food", network="mastodon") == []

    assert await read.mark_read(db, ada, [n1.id, t1.id]) == 2
    assert await titles(db, ada, unread=True) == ["d1", "r1", "n2"]
    await read.star(db, ada, r1.id)
    await read.star(db, ada, n2.id)
    assert await titles(db, ada, starred=True) == ["r1", "n2"]
    assert await titles(db, ada, starred=True, folder="Daily") == ["n2"]
    assert await titles(db, ada, starred=True, unread=True, network="feed") == ["r1", "n2"]
    page = await read.timeline(db, ada)
    states = {i.title: (i.read, i.starred) for i in page.items}
    assert states == {
        "d1": (False, False),
        "t1": (True, False),
        "r1": (False, True),
        "n2": (False, True),
        "n1": (True, False),
    }


HOSTILE = ['"', "*", "AND (", "NEAR(", "a OR", "title:x", "^", "-", "''", "NOT", "((", "\\", "{}"]


async def test_search_finds_every_word_and_no_query_breaks_it(db):
    ada = await people.person(db, "Ada")
    news = await a_source(db)
    await subscribe(db, ada, news)
    await add_entries(db, news, ["Café opens", "Chess club", "Club sandwich recipe"])
    assert await titles(db, ada, q="club") == ["Club sandwich recipe", "Chess club"]
    assert await titles(db, ada, q="CHESS club") == ["Chess club"]
    assert await titles(db, ada, q="body sandwich") == ["Club sandwich recipe"]
    assert await titles(db, ada, q="nothing-like-this") == []
    for hostile in HOSTILE:
        assert await titles(db, ada, q=hostile) == [], hostile
    assert await titles(db, ada, q='"chess" AND (') == []  # "and" is no word of them
    assert await titles(db, ada, q='chess" club NEAR(') == []
    assert await titles(db, ada, q='"chess" club*') == ["Chess club"]


async def test_search_reads_only_my_feeds(db):
    ada = await people.person(db, "Ada")
    mine, theirs = await a_source(db), await a_source(db)
    await subscribe(db, ada, mine)
    await add_entries(db, mine, ["chess mine"])
    await add_entries(db, theirs, ["chess theirs"])
    assert await titles(db, ada, q="chess") == ["chess mine"]


async def test_marks_pass_over_entries_i_do_not_read_and_stars_say_unknown(db):
    ada, bob = await people.person(db, "Ada"), await people.person(db, "Bob")
    mine, theirs = await a_source(db), await a_source(db)
    await subscribe(db, ada, mine)
    await subscribe(db, bob, theirs)
    [m1, m2] = await add_entries(db, mine, ["m1", "m2"])
    [t1] = await add_entries(db, theirs, ["t1"])
    assert await read.mark_read(db, ada, [m1.id, t1.id, 2**40, -1]) == 1
    assert await read.mark_read(db, ada, [m1.id]) == 0  # already
    for entry_id in (t1.id, 2**31 - 1):
        with pytest.raises(NotFound) as unknown:
            await read.star(db, ada, entry_id)
        assert unknown.value.message == read.NO_ENTRY
    states = (await db.execute(select(FeedEntryState.user_id, FeedEntryState.entry_id))).all()
    assert states == [(ada.id, m1.id)]
    assert await read.mark_read(db, ada, [m1.id, m2.id], read=False) == 1
    assert await titles(db, ada, unread=True) == ["m2", "m1"]
    await read.star(db, ada, m1.id)
    await read.star(db, ada, m1.id, starred=False)
    assert await titles(db, ada, starred=True) == []
    with pytest.raises(InvalidInput):
        await read.mark_read(db, ada, list(range(1, read.MAX_IDS + 2)))


async def test_read_all_up_to_a_place_with_the_filters(db):
    ada = await people.person(db, "Ada")
    news, food = await a_source(db), await a_source(db)
    await subscribe(db, ada, news, folder="News")
    await subscribe(db, ada, food, folder="Food")
    made = await add_entries(db, news, [f"n{i}" for i in range(6)], step=0)
    await add_entries(db, food, ["f0", "f1"])
    page = await read.timeline(db, ada, read.Filters(folder="News"), limit=2)
    up_to = page.items[-1].position  # the second of six at one instant
    changed = await read.mark_all_read(db, ada, read.Filters(folder="News"), up_to=up_to)
    assert changed == 5
    assert await titles(db, ada, unread=True) == ["f1", "f0", page.items[0].title]
    assert await read.mark_all_read(db, ada) == 3
    assert await titles(db, ada, unread=True) == []
    assert await read.mark_all_read(db, ada, read.Filters(q="f1"), read=False) == 1
    assert await titles(db, ada, unread=True) == ["f1"]
    assert len(made) == 6


async def test_a_page_costs_one_query_on_page_one_and_on_page_two_hundred(db, engine):
    ada = await people.person(db, "Ada")
    for n in range(4):
        mine = await a_source(db)
        await subscribe(db, ada, mine, folder="F")
        followed = await a_source(db)
        owner = await people.person(db, f"P{n}")
        await feed_of(db, owner, f"net{n}", followed)
        await follow(db, ada, owner)
        rows = [
            {
                "source_id": source.id,
                "key_hash": f"{source.id}-{i}",
                "title": f"e{i}",
                "digest": "d",
                "sort_at": T0 + timedelta(seconds=i // 3),  # ties, three at a time
            }
            for source in (mine, followed)
            for i in range(1260)
        ]
        await db.execute(insert(FeedEntry), rows)
    await db.commit()
    costs = []
    after = None
    for _ in range(205):
        with counted(engine) as statements:
            page = await read.timeline(db, ada, after=after)
        assert len(page.items) == 50 or page.next_cursor is None
        costs.append(len(statements))
        if page.next_cursor is None:
            break
        after = read.position(page.next_cursor)
    # 10,080 entries: 202 pages of 50 (the last one short), each one query.
    assert costs == [1] * 202, costs


async def test_narrowing_to_a_number_tells_nothing_of_who_has_it(db):
    """The person filter finds nobody: a number nobody has, a hidden one, one not followed and
    one whose every account is out of the reader's sight all give the same empty page."""
    me = await people.person(db, "Reader")
    owners = {
        "shown": await people.person(db, "Shown"),
        "hidden": await people.person(db, "Hidden", find_by_number=False),
        "unfollowed": await people.person(db, "Stranger"),
        "private": await people.person(db, "Private"),
    }
    for name, owner in owners.items():
        source = await a_source(db)
        await feed_of(db, owner, "github", source, "private" if name == "private" else "public")
        await add_entries(db, source, [f"by {name}"])
        if name != "unfollowed":
            await follow(db, me, owner)
    shown = await read.timeline(db, me, read.Filters(number=owners["shown"].number))
    assert [item.title for item in shown.items] == ["by shown"]
    pages = [
        await read.timeline(db, me, read.Filters(number=number))
        for number in (
            numbers.generate(8),
            owners["hidden"].number,
            owners["unfollowed"].number,
            owners["private"].number,
        )
    ]
    assert all(page == read.Page((), None) for page in pages)


async def test_ones_own_timelines_carry_their_network(db):
    """A Mastodon home or the Bluesky accounts one follows come through subscriptions marked
    with their network: shown as such, and kept to their network's filter."""
    me = await people.person(db, "Reader")
    blog, home = await a_source(db, "Blog"), await a_source(db, "Home")
    await subscribe(db, me, blog)
    db.add(FeedSubscription(user_id=me.id, source_id=home.id, network="mastodon"))
    await db.flush()
    await add_entries(db, blog, ["post"])
    await add_entries(db, home, ["toot"], at=T0 + timedelta(hours=1))
    page = await read.timeline(db, me)
    assert [(i.title, i.network) for i in page.items] == [("toot", "mastodon"), ("post", "feed")]
    only = await read.timeline(db, me, read.Filters(network="mastodon"))
    assert [i.title for i in only.items] == ["toot"]
    feeds = await read.timeline(db, me, read.Filters(network="feed"))
    assert [i.title for i in feeds.items] == ["post"]
