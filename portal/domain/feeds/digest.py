"""The morning digest: what came since one last looked, from the people and the feeds one reads
most, grouped so that it is read in a minute.

- **Since when**: the last time the person opened their feed (``users.feed_seen_at``), at
  most :data:`LONGEST` ago; a day for someone who never opened it.
- **Groups**: one per person followed (all their networks together, each named) and one per
  feed of one's own. A group is in the digest when something new came in it.
- **Order**: the groups one read most in the last :data:`READ_WINDOW` first (entries marked
  read, counted per source), then those with the most new entries; at most :data:`GROUPS`,
  each with its :data:`PER_GROUP` newest entries and how many more there are.
- **Cost**: four queries whatever the number of sources and entries — what is new per way of
  reading, what was read per source, the names of the people (as privacy lets the reader see
  them), and the newest entries of each chosen source (a window function, both databases).
- What a reader sees is decided as everywhere else (:func:`.read.reading`): an account the
  owner narrowed or unlinked brings nothing, at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import letters
from portal.domain import notifications, privacy
from portal.domain import number as numbers
from portal.domain.feeds import read
from portal.domain.feeds.read import Filters
from portal.domain.feeds.sanitize import first_words
from portal.errors import N_, InvalidInput
from portal.storage.models import FeedEntry, FeedEntryState, FeedSource, User, utcnow

SENT_AT_MOST_EVERY = timedelta(hours=20)
"""A digest emailed is not emailed again before this (an hour set twice in a day)."""
EMAILED_AT_ONCE = 100
LONGEST = timedelta(days=7)
FIRST = timedelta(days=1)
READ_WINDOW = timedelta(days=30)
GROUPS = 8
PER_GROUP = 3


@dataclass(frozen=True, slots=True)
class DigestEntry:
    id: int
    title: str
    link: str | None
    network: str
    sort_at: datetime


@dataclass(slots=True)
class DigestGroup:
    """A person followed (``number`` set) or a feed of one's own."""

    title: str
    number: str | None
    display_number: str | None
    sources: dict[int, str] = field(default_factory=dict)
    """Each source of the group and the network it is on."""
    new: int = 0
    read_lately: int = 0
    entries: list[DigestEntry] = field(default_factory=list)

    @property
    def networks(self) -> list[str]:
        return list(dict.fromkeys(self.sources.values()))

    @property
    def more(self) -> int:
        return max(0, self.new - len(self.entries))


@dataclass(frozen=True, slots=True)
class Digest:
    since: datetime
    groups: tuple[DigestGroup, ...]
    total_new: int
    """Entries new since then, in all groups (those left out of the digest too)."""


def since_for(user: User, now: datetime) -> datetime:
    seen = user.feed_seen_at
    if seen is None:
        return now - FIRST
    return max(seen, now - LONGEST)


async def digest(
    session: AsyncSession,
    user: User,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Digest:
    """``user``'s digest of what came after ``since`` (see :func:`since_for`)."""
    now = now or utcnow()
    since = since or since_for(user, now)
    reading = read.reading(user, Filters()).subquery("reading")
    new_rows = (
        await session.execute(
            select(
                reading.c.source_id,
                reading.c.owner_id,
                reading.c.network,
                reading.c.own_title,
                FeedSource.title,
                FeedSource.url,
                func.count(FeedEntry.id).label("new"),
            )
            .join(FeedSource, FeedSource.id == reading.c.source_id)
            .join(FeedEntry, FeedEntry.source_id == reading.c.source_id)
            .where(FeedEntry.sort_at > since, FeedEntry.sort_at <= now)
            .group_by(
                reading.c.source_id,
                reading.c.owner_id,
                reading.c.network,
                reading.c.own_title,
                FeedSource.title,
                FeedSource.url,
            )
            .order_by(reading.c.source_id)  # a person's networks always in one order
        )
    ).all()
    if not new_rows:
        return Digest(since, (), 0)
    read_lately = await _read_per_source(session, user, {row.source_id for row in new_rows}, now)
    owners = {row.owner_id for row in new_rows if row.owner_id is not None}
    names = await _names(session, user, owners)

    groups: dict[tuple[str, int], DigestGroup] = {}
    for row in new_rows:
        if row.owner_id is None:
            key = ("source", row.source_id)
            title = row.own_title or row.title or row.url
            group = groups.setdefault(key, DigestGroup(title, None, None))
        else:
            key = ("person", row.owner_id)
            number, name = names[row.owner_id]
            shown = numbers.display(number)
            group = groups.setdefault(key, DigestGroup(name or shown, number, shown))
        if row.source_id in group.sources:
            continue
        group.sources[row.source_id] = row.network
        group.new += row.new
        group.read_lately += read_lately.get(row.source_id, 0)
    chosen = sorted(groups.values(), key=lambda g: (-g.read_lately, -g.new, g.title))[:GROUPS]
    await _newest(session, chosen, since, now)
    total = sum(group.new for group in groups.values())
    return Digest(since, tuple(chosen), total)


async def _read_per_source(
    session: AsyncSession, user: User, source_ids: set[int], now: datetime
) -> dict[int, int]:
    rows = await session.execute(
        select(FeedEntry.source_id, func.count())
        .join(FeedEntryState, FeedEntryState.entry_id == FeedEntry.id)
        .where(
            FeedEntryState.user_id == user.id,
            FeedEntryState.read_at >= now - READ_WINDOW,
            FeedEntry.source_id.in_(sorted(source_ids)),
        )
        .group_by(FeedEntry.source_id)
    )
    return {row[0]: row[1] for row in rows}


async def _names(
    session: AsyncSession, user: User, owners: set[int]
) -> dict[int, tuple[str, str | None]]:
    """Each person's number and their name as ``user`` may see it (None when hidden)."""
    if not owners:
        return {}
    rows = await session.execute(
        select(User.id, User.number, privacy.name_sql(user)).where(User.id.in_(sorted(owners)))
    )
    return {owner_id: (number, name or None) for owner_id, number, name in rows}


async def _newest(
    session: AsyncSession, chosen: list[DigestGroup], since: datetime, now: datetime
) -> None:
    """Fill each chosen group with its newest entries: one query for all of them."""
    by_source: dict[int, list[DigestGroup]] = defaultdict(list)
    for group in chosen:
        for source_id in group.sources:
            by_source[source_id].append(group)
    if not by_source:
        return
    rank = (
        func.row_number()
        .over(
            partition_by=FeedEntry.source_id,
            order_by=(FeedEntry.sort_at.desc(), FeedEntry.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            FeedEntry.id,
            FeedEntry.source_id,
            FeedEntry.title,
            FeedEntry.text,
            FeedEntry.link,
            FeedEntry.sort_at,
            rank,
        )
        .where(
            FeedEntry.source_id.in_(sorted(by_source)),
            FeedEntry.sort_at > since,
            FeedEntry.sort_at <= now,
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked).where(ranked.c.rank <= PER_GROUP).order_by(ranked.c.sort_at.desc())
    )
    for row in rows:
        for group in by_source[row.source_id]:
            if len(group.entries) < PER_GROUP:
                group.entries.append(
                    DigestEntry(
                        id=row.id,
                        title=row.title or first_words(row.text, 90),
                        link=row.link,
                        network=group.sources[row.source_id],
                        sort_at=row.sort_at,
                    )
                )


def set_hour(user: User, hour: int | None) -> None:
    """Email ``user`` their digest at ``hour`` (0-23, UTC) each day; None: never."""
    if hour is not None and not 0 <= hour <= 23:
        raise InvalidInput(N_("Choose an hour from 0 to 23."), field="hour")
    user.digest_hour = hour


async def email_due(
    session: AsyncSession, mailer: notifications.Mailer, now: datetime | None = None
) -> int:
    """Email their digest to the people whose hour it is and who were not sent it lately
    (at most :data:`EMAILED_AT_ONCE` at a time; the others at the next call). A digest with
    nothing in it is not sent. How many were emailed; the caller commits, and the emails go
    out once it has."""
    now = now or utcnow()
    due = await session.scalars(
        select(User)
        .where(
            User.digest_hour == now.hour,
            User.email_confirmed_at.is_not(None),
            or_(User.digest_sent_at.is_(None), User.digest_sent_at < now - SENT_AT_MOST_EVERY),
        )
        .order_by(User.id)
        .limit(EMAILED_AT_ONCE)
    )
    sent = 0
    for user in list(due):
        user.digest_sent_at = now
        found = await digest(session, user, now=now)
        if not found.groups:
            continue
        subject, text = letters.write(
            "digest",
            user.language or "en",
            base_url=mailer.base_url,
            groups=found.groups,
            total=found.total_new,
            labels=read.network_labels(),
        )
        notifications.send_after_commit(session, mailer, user.email, subject, text)
        sent += 1
    return sent
