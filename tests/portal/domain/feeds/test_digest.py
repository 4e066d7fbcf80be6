"""The morning digest: what came since one last looked, grouped by person (all their networks
together) and by feed, the groups one reads most first, in a constant number of queries."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from portal import mail
from portal.domain import notifications
from portal.domain.feeds import digest
from portal.errors import InvalidInput
from portal.storage.models import (
    FeedEntry,
    FeedEntryState,
    FeedSource,
    FeedSubscription,
    Follow,
    User,
)
from tests.portal.domain.people import account, person

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
SEEN = NOW - timedelta(hours=10)


async def _source(db, url: str, title: str, hours_ago: list[int]) -> FeedSource:
    source = FeedSource(url=url, title=title)
    db.add(source)
    await db.flush()
    for n, hours in enumerate(hours_ago):
        at = NOW - timedelta(hours=hours)
        db.add(
            FeedEntry(
                source_id=source.id,
                key_hash=hashlib.sha256(f"{url}{n}".encode()).hexdigest(),
                title=f"{title} {n}",
                text=f"words of {title} {n}",
                link=f"{url}/{n}",
                digest="d",
                sort_at=at,
                first_seen_at=at,
            )
        )
    await db.flush()
    return source


async def _world(db):
    ada = await person(db, "Ada", feed_seen_at=SEEN)
    grace = await person(db, "Grace", name_audience="private")
    news = await _source(db, "https://news.example/rss", "News", [1, 2, 3, 4, 5, 20])
    chess = await _source(db, "https://chess.example/rss", "Chess", [6, 30])
    quiet = await _source(db, "https://quiet.example/rss", "Quiet", [50])
    for source in (news, chess, quiet):
        db.add(FeedSubscription(user_id=ada.id, source_id=source.id))
    toots = await _source(db, "https://mastodon.example/@grace.rss", "Grace toots", [2, 9])
    skeets = await _source(db, "https://pds.example/grace", "Grace skeets", [3])
    hidden = await _source(db, "https://matrix.example/grace", "Grace hidden", [1])
    for network, handle, source, audience in (
        ("mastodon", "@grace@mastodon.example", toots, "public"),
        ("bluesky", "grace.example", skeets, "members"),
        ("github", "grace", hidden, "contacts"),
    ):
        linked = await account(db, grace, network, handle, audience)
        linked.feed_source_id = source.id
    db.add(Follow(user_id=ada.id, owner_id=grace.id))
    await db.flush()
    return ada, grace, news, chess


async def test_new_entries_grouped_by_person_and_feed_since_the_last_visit(db):
    ada, grace, _, _ = await _world(db)
    found = await digest.digest(db, ada, now=NOW)
    assert found.since == SEEN
    by_title = {group.title: group for group in found.groups}
    # Grace hides her name from Ada: her group is her number; her contacts-only account
    # brings nothing; her two other networks are one group.
    shown = by_title.pop(grace.number[:3] + " " + grace.number[3:6] + " " + grace.number[6:])
    assert shown.number == grace.number
    assert shown.networks == ["mastodon", "bluesky"]  # in the order of their sources
    assert shown.new == 3
    assert [e.title for e in shown.entries] == ["Grace toots 0", "Grace skeets 0", "Grace toots 1"]
    assert set(by_title) == {"News", "Chess"}  # Quiet has nothing new
    assert by_title["News"].new == 5 and by_title["News"].more == 2
    assert [e.title for e in by_title["News"].entries] == ["News 0", "News 1", "News 2"]
    assert by_title["News"].networks == ["feed"]
    assert found.total_new == 3 + 5 + 1


async def test_the_groups_one_reads_most_come_first(db):
    ada, _, _, chess = await _world(db)
    old = FeedEntry(
        source_id=chess.id, key_hash="0" * 64, title="Old", digest="d",
        sort_at=NOW - timedelta(days=3), first_seen_at=NOW - timedelta(days=3),
    )  # fmt: skip
    db.add(old)
    await db.flush()
    db.add(FeedEntryState(user_id=ada.id, entry_id=old.id, read_at=NOW - timedelta(days=2)))
    await db.flush()
    found = await digest.digest(db, ada, now=NOW)
    assert found.groups[0].title == "Chess"  # read lately, though it has fewer new entries
    assert found.groups[1].title == "News"  # then the most new entries


async def test_nothing_new_is_an_empty_digest_and_a_first_digest_covers_a_day(db):
    ada = await person(db, "Ada")
    found = await digest.digest(db, ada, now=NOW)
    assert found.groups == () and found.total_new == 0
    assert found.since == NOW - timedelta(days=1)
    long_gone = await person(db, "Bob", feed_seen_at=NOW - timedelta(days=60))
    assert digest.since_for(long_gone, NOW) == NOW - digest.LONGEST


async def test_a_digest_costs_four_queries_however_many_groups(db, connection):
    ada, _, _, _ = await _world(db)
    for n in range(12):
        extra = await _source(db, f"https://extra{n}.example/rss", f"Extra {n}", [1, 2])
        db.add(FeedSubscription(user_id=ada.id, source_id=extra.id))
    await db.flush()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", count)
    try:
        found = await digest.digest(db, ada, now=NOW)
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", count)
    assert len(found.groups) == digest.GROUPS
    assert len(statements) == 4, statements


async def test_the_digest_is_emailed_at_its_hour_once_a_day_and_never_empty(db):
    ada, _, news, _ = await _world(db)
    bob = await person(db, "Bob")  # reads nothing: no email
    carol = await person(db, "Carol")
    db.add(FeedSubscription(user_id=carol.id, source_id=news.id))
    digest.set_hour(ada, 7)
    digest.set_hour(bob, 7)
    digest.set_hour(carol, 8)  # not her hour
    await db.commit()
    mailer = notifications.Mailer("", "portal@example.org", "https://portal.test")

    assert await digest.email_due(db, mailer, NOW) == 1
    await db.commit()
    await notifications.sent_mail()
    [letter] = [sent for sent in mail.console_outbox if sent.to == ada.email]
    assert letter.subject == "Your morning digest: 9 new entries"
    assert "News · Feeds I follow\n  - News 0\n  - News 1\n  - News 2\n  and 2 more" in letter.text
    assert "https://portal.test/feed/digest" in letter.text
    assert "https://news.example" not in letter.text  # no link of a stranger's in an email
    assert bob.digest_sent_at == NOW  # considered, and nothing to send

    assert await digest.email_due(db, mailer, NOW + timedelta(minutes=30)) == 0  # sent today
    assert await digest.email_due(db, mailer, NOW + timedelta(days=1)) == 1  # tomorrow


def test_an_hour_out_of_the_day_is_refused_in_words():
    with pytest.raises(InvalidInput) as refused:
        digest.set_hour(User(), 24)
    assert refused.value.field == "hour"
