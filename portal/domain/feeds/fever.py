"""The Fever API (https://feedafever.com/api, version 3), so that reader apps sync with Portal.

Reeder, ReadKit, Unread, Fiery Feeds, Fluent Reader, Read You and NetNewsWire's Fever accounts
speak it: one address (``/fever/?api``), a form posted with ``api_key`` (see
:mod:`.access`), and the question in the query string (``groups``, ``feeds``, ``items``…).
What they read is what the person reads on the portal's own pages, through the same rules
(:mod:`.read`): their own feeds and the people they follow, privacy decided at each request.

How Fever's words map onto the portal's:

- **feeds** are sources; **groups** are the person's folders, and one group for each person
  they follow (named by the name the follower may see, or the number). Group ids: a person's
  is their portal number, read as a number (at most 15 digits); a folder's is a hash of its
  name above all of them, from :data:`FOLDERS_FROM` (stable while the folder keeps its name).
  Group 0 is Fever's "Kindling", everything.
- **items** are entries, by their ids: ``since_id`` pages forward (ascending), ``max_id``
  backwards (descending), ``with_ids`` names up to 50; each with its read and saved
  (starred) state. An id the person does not read is simply not there, like one that does not
  exist.
- **mark** item read, unread, saved or unsaved; a feed or a group read ``before`` a time.
- No favicons and no "hot links" are kept: both lists are empty, which the apps accept.

``unread_item_ids`` lists the newest :data:`MAX_IDS_LISTED` unread entries at most, so that
one request stays bounded for a reader of a million entries.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import privacy
from portal.domain.feeds import read
from portal.domain.feeds.read import Filters, Position
from portal.errors import InvalidInput, NotFound
from portal.storage.models import (
    MAX_ID,
    FeedEntry,
    FeedEntryState,
    FeedSource,
    FeedSubscription,
    User,
    utcnow,
)

API_VERSION = 3
ITEMS_PER_REQUEST = 50
MAX_IDS_LISTED = 50_000
FOLDERS_FROM = 10**15
"""Group ids from here up are folders (a hash of their name); below, people (their portal
number, at most 15 digits, whatever length the portal gives)."""
LATEST_TIME = 4_102_444_800
"""2100-01-01: a ``before`` later than this is read as this."""


def refused() -> dict[str, Any]:
    """The answer to a request whose key opens no account."""
    return {"api_version": API_VERSION, "auth": 0}


def folder_group(folder: str) -> int:
    return FOLDERS_FROM + zlib.crc32(folder.encode())


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _ids(value: str | None, limit: int = ITEMS_PER_REQUEST) -> list[int]:
    """Ids from a comma-separated list; anything that is not one is passed over."""
    found: list[int] = []
    for part in (value or "").split(",")[: limit * 2]:
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= MAX_ID:
            found.append(int(part))
    return found[:limit]


def _number(value: str | None, *, largest: int = MAX_ID) -> int | None:
    """A whole number from a parameter, at most ``largest``; None for anything else."""
    value = (value or "").strip()
    return min(int(value), largest) if value.isdigit() and len(value) <= 18 else None


async def answer(
    session: AsyncSession, user: User, asked: Mapping[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """Fever's answer to ``asked`` (the query string and the form together) for ``user``."""
    now = now or utcnow()
    reading = read.reading(user, Filters()).subquery("reading")
    out: dict[str, Any] = {"api_version": API_VERSION, "auth": 1}
    refreshed = await session.scalar(
        select(func.max(FeedSource.last_success_at)).where(
            FeedSource.id.in_(select(reading.c.source_id))
        )
    )
    out["last_refreshed_on_time"] = _unix(refreshed or now)

    if "mark" in asked:
        out.update(await _mark(session, user, reading, asked, now))
    if "groups" in asked or "feeds" in asked:
        groups, feeds, feeds_groups = await _groups_and_feeds(session, user, reading)
        if "groups" in asked:
            out["groups"] = groups
        if "feeds" in asked:
            out["feeds"] = feeds
        out["feeds_groups"] = feeds_groups
    if "favicons" in asked:
        out["favicons"] = []
    if "links" in asked:
        out["links"] = []
    if "items" in asked:
        out["items"], out["total_items"] = await _items(session, user, reading, asked)
    if "unread_item_ids" in asked and "unread_item_ids" not in out:  # a mark gave it already
        out["unread_item_ids"] = await _unread_ids(session, user, reading)
    if "saved_item_ids" in asked and "saved_item_ids" not in out:
        out["saved_item_ids"] = await _saved_ids(session, user, reading)
    return out


async def _groups_and_feeds(
    session: AsyncSession, user: User, reading: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    rows = (
        await session.execute(
            select(
                reading.c.source_id,
                reading.c.owner_id,
                reading.c.network,
                reading.c.own_title,
                FeedSubscription.folder,
                FeedSource.title,
                FeedSource.url,
                FeedSource.site_url,
                FeedSource.last_success_at,
                FeedSource.account_id.is_not(None).label("private"),
                User.number,
                privacy.name_sql(user).label("name"),
            )
            .join(FeedSource, FeedSource.id == reading.c.source_id)
            .outerjoin(
                FeedSubscription,
                and_(
                    reading.c.owner_id.is_(None),
                    FeedSubscription.user_id == user.id,
                    FeedSubscription.source_id == reading.c.source_id,
                ),
            )
            .outerjoin(User, User.id == reading.c.owner_id)
            .order_by(reading.c.source_id)
        )
    ).all()
    feeds: dict[int, dict[str, Any]] = {}
    groups: dict[int, str] = {}
    members: dict[int, list[int]] = {}
    for row in rows:
        if row.owner_id is None:
            title = row.own_title or row.title or ("" if row.private else row.url)
            group = folder_group(row.folder) if row.folder else None
            if row.folder:
                groups[group] = row.folder  # type: ignore[index]
        else:
            person = row.name or row.number
            title = f"{person} · {row.network}"
            group = int(row.number)
            groups[group] = person
        feeds.setdefault(
            row.source_id,
            {
                "id": row.source_id,
                "favicon_id": 0,
                "title": title,
                "url": "" if row.private else row.url,
                "site_url": row.site_url or ("" if row.private else row.url),
                "is_spark": 0,
                "last_updated_on_time": _unix(row.last_success_at),
            },
        )
        if group is not None and row.source_id not in members.setdefault(group, []):
            members[group].append(row.source_id)
    return (
        [{"id": gid, "title": title} for gid, title in sorted(groups.items())],
        list(feeds.values()),
        [
            {"group_id": gid, "feed_ids": ",".join(str(fid) for fid in ids)}
            for gid, ids in sorted(members.items())
        ],
    )


def _readable(reading: Any) -> Any:
    return FeedEntry.source_id.in_(select(reading.c.source_id))


async def _items(
    session: AsyncSession, user: User, reading: Any, asked: Mapping[str, str]
) -> tuple[list[dict[str, Any]], int]:
    state = FeedEntryState
    query = (
        select(
            FeedEntry.id,
            FeedEntry.source_id,
            FeedEntry.title,
            FeedEntry.author,
            FeedEntry.html,
            FeedEntry.link,
            FeedEntry.sort_at,
            state.read_at,
            state.starred_at,
        )
        .outerjoin(state, and_(state.entry_id == FeedEntry.id, state.user_id == user.id))
        .where(_readable(reading))
    )
    with_ids = _ids(asked.get("with_ids"))
    since, before = _number(asked.get("since_id")), _number(asked.get("max_id"))
    if "with_ids" in asked:
        query = query.where(FeedEntry.id.in_(with_ids)).order_by(FeedEntry.id)
    elif since is not None:
        query = query.where(FeedEntry.id > since).order_by(FeedEntry.id)
    elif before is not None:
        query = query.where(FeedEntry.id < before).order_by(FeedEntry.id.desc())
    else:
        query = query.order_by(FeedEntry.id.desc())
    rows = (await session.execute(query.limit(ITEMS_PER_REQUEST))).all()
    total = await session.scalar(select(func.count()).where(_readable(reading)))
    items = [
        {
            "id": row.id,
            "feed_id": row.source_id,
            "title": row.title,
            "author": row.author or "",
            "html": row.html,
            "url": row.link or "",
            "is_saved": int(row.starred_at is not None),
            "is_read": int(row.read_at is not None),
            "created_on_time": _unix(row.sort_at),
        }
        for row in rows
    ]
    return items, int(total or 0)


async def _unread_ids(session: AsyncSession, user: User, reading: Any) -> str:
    read_ones = select(FeedEntryState.entry_id).where(
        FeedEntryState.user_id == user.id, FeedEntryState.read_at.is_not(None)
    )
    ids = await session.scalars(
        select(FeedEntry.id)
        .where(_readable(reading), FeedEntry.id.not_in(read_ones))
        .order_by(FeedEntry.id.desc())
        .limit(MAX_IDS_LISTED)
    )
    return ",".join(str(i) for i in sorted(ids))


async def _saved_ids(session: AsyncSession, user: User, reading: Any) -> str:
    ids = await session.scalars(
        select(FeedEntry.id)
        .join(
            FeedEntryState,
            and_(FeedEntryState.entry_id == FeedEntry.id, FeedEntryState.user_id == user.id),
        )
        .where(_readable(reading), FeedEntryState.starred_at.is_not(None))
        .order_by(FeedEntry.id)
        .limit(MAX_IDS_LISTED)
    )
    return ",".join(str(i) for i in ids)


async def _mark(
    session: AsyncSession, user: User, reading: Any, asked: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """A ``mark`` request: what it changes, then the list Fever answers it with."""
    what, how = asked.get("mark", ""), asked.get("as", "")
    largest = FOLDERS_FROM * 2 if what == "group" else MAX_ID
    target = _number(asked.get("id"), largest=largest)
    if what == "item" and target is not None and how in ("read", "unread"):
        await read.mark_read(session, user, [target], read=how == "read", now=now)
        return {"unread_item_ids": await _unread_ids(session, user, reading)}
    if what == "item" and target is not None and how in ("saved", "unsaved"):
        with contextlib.suppress(NotFound):  # not an entry of theirs: nothing to change
            await read.star(session, user, target, starred=how == "saved", now=now)
        return {"saved_item_ids": await _saved_ids(session, user, reading)}
    if what in ("feed", "group") and target is not None and how == "read":
        filters = await _filters(session, user, what, target)
        if filters is not None:
            stamp = _number(asked.get("before"), largest=LATEST_TIME)
            up_to = Position(datetime.fromtimestamp(stamp, UTC), MAX_ID) if stamp else None
            with contextlib.suppress(InvalidInput):  # a group that names no one they follow
                await read.mark_all_read(session, user, filters, up_to=up_to, now=now)
        return {"unread_item_ids": await _unread_ids(session, user, reading)}
    return {}


async def _filters(session: AsyncSession, user: User, what: str, target: int) -> Filters | None:
    """The part of the feed a feed's or a group's id names; None for nothing."""
    if what == "feed":
        return Filters(source_id=target)
    if target == 0:
        return Filters()
    if target < FOLDERS_FROM:
        return Filters(number=str(target))
    folders = await session.scalars(
        select(FeedSubscription.folder).where(FeedSubscription.user_id == user.id).distinct()
    )
    for folder in folders:
        if folder and folder_group(folder) == target:
            return Filters(folder=folder)
    return None
