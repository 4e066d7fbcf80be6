"""Reading the unified feed: the entries of a viewer's own subscriptions and of the feeds they
read through the people they follow, newest first, and what they did with each entry.

- **What a viewer reads** is one set of rows, ``reading``: one per subscription (network
  ``feed``, the subscriber's own title and folder) and one per followed account whose feed the
  viewer may see (:func:`portal.domain.feeds.follows.visible_sources`, privacy decided now).
  Filters by network, person, source and folder narrow this set; an entry is on the timeline
  when its source is in it. Nothing here can name an entry of a source the viewer does not read.
- **Order and pages**: newest first by ``(sort_at, id)``, with a keyset cursor (the position
  of the last item, opaque to clients) compared as a row value, so that page 500 costs what
  page 1 costs: the ``(sort_at, id)`` index read backwards from the cursor, or the
  ``(source_id, sort_at, id)`` one for a single source. A page is one query whatever its size:
  the page's ids are chosen first (a ``LIMIT`` over the entries alone), then joined to what is
  shown of each (source, person as privacy lets the viewer see them, read and starred state).
- **Search** uses the index made by migration 0010: FTS5 on SQLite, with each word of the
  reader's quoted as a string so that no FTS syntax gets through, and on PostgreSQL the GIN
  expression, matched with ``plainto_tsquery``. On both, every word must appear.
- **Cost**: a page's statement is built once for each shape of filters, its values (the
  reader, the filters, the cursor) parameters, so that SQLAlchemy neither builds nor compiles
  it again. Measured on PostgreSQL by ``tests/bench/bench_timeline.py`` (1,000 sources,
  1,000,000 entries): page 1 and page 500 read the ``(sort_at, id)`` index backwards, a few
  milliseconds each. The starred filter reads that index until enough starred entries come,
  so it costs more the further apart a reader's stars are.
- **States** are rows of ``feed_entry_states`` (no row: unread, not starred), written in SQL:
  marking entries or everything up to a position is one ``INSERT … SELECT … ON CONFLICT``.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Executable,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    column,
    exists,
    false,
    func,
    literal,
    select,
    table,
    text,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from portal.db import upsert
from portal.domain import number as numbers
from portal.domain import privacy
from portal.domain.feeds.follows import visible_sources
from portal.errors import N_, InvalidInput, NotFound
from portal.storage.models import (
    MAX_ID,
    FeedEntry,
    FeedEntryState,
    FeedSource,
    FeedSubscription,
    User,
    UTCDateTime,
    utcnow,
)

FEED = "feed"
"""The network of a feed the viewer subscribes to themselves."""


def network_labels() -> dict[str, str]:
    """Each network an entry may come from and its name, as a message to translate: the
    feeds one follows (a person's linked Feed among them: the same network), then every
    other network a connector knows."""
    found = {
        name: connector.LABEL for name, connector in connectors.registry().items() if name != FEED
    }
    return {FEED: N_("Feeds I follow"), **found}


PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_IDS = 500
"""Entries marked at once by id."""
MAX_QUERY = 200
"""Characters of a search."""

PG_SEARCH = (
    "to_tsvector('simple'::regconfig, left(feed_entries.title || ' ' || feed_entries.text, 200000))"
)
"""The expression of the GIN index of migration 0010, word for word: PostgreSQL uses the
index only for this very expression."""

BAD_CURSOR = N_("This cursor is not valid; use the one a page of the feed gave.")
NO_ENTRY = N_("There is no such entry in your feed.")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an entry stands on the timeline."""

    at: datetime
    id: int

    def cursor(self) -> str:
        raw = f"{self.at.astimezone(UTC).isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(cursor: str, *, field: str = "cursor") -> Position:
    """The position an opaque cursor holds; :class:`InvalidInput` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, _, id_text = raw.partition("|")
        at = datetime.fromisoformat(at_text)
        entry_id = int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(BAD_CURSOR, field=field) from error
    if at.tzinfo is None or not 0 < entry_id <= MAX_ID or not id_text.isdigit():
        raise InvalidInput(BAD_CURSOR, field=field)
    return Position(at, entry_id)


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows the timeline; every one left empty lets everything through."""

    network: str | None = None
    number: str | None = None
    """A person followed, by portal number (as typed)."""
    source_id: int | None = None
    folder: str | None = None
    unread: bool = False
    starred: bool = False
    q: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """Who an entry came through, as much as the viewer may see of them."""

    number: str
    display_number: str
    display_name: str | None


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    source_id: int
    source_title: str
    network: str
    person: Person | None
    account_id: int | None
    title: str
    link: str | None
    html: str
    text: str
    """The words alone (what search reads), for excerpts and titles where there is none."""
    author: str | None
    image: str | None
    published_at: datetime | None
    updated_at: datetime | None
    sort_at: datetime
    read: bool
    starred: bool

    @property
    def position(self) -> Position:
        return Position(self.sort_at, self.id)


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Item, ...]
    next_cursor: str | None
    """Where the next page starts; ``None`` on the last page."""


# --- what a viewer reads --------------------------------------------------------------------


def _person_id(number: Any) -> ColumnElement[Any]:
    return select(User.id).where(User.number == number).scalar_subquery()


def _reading(viewer: User, filters: Filters) -> Select[Any]:
    """The rows of what ``viewer`` reads, narrowed by ``filters``: ``source_id``,
    ``owner_id``, ``account_id``, ``network``, ``own_title``."""
    own = select(
        FeedSubscription.source_id.label("source_id"),
        literal(None, Integer).label("owner_id"),
        literal(None, Integer).label("account_id"),
        case(
            (FeedSubscription.network == "", literal(FEED, String)), else_=FeedSubscription.network
        ).label("network"),
        FeedSubscription.title.label("own_title"),
    ).where(FeedSubscription.user_id == viewer.id)
    followed = visible_sources(viewer).subquery("followed")
    via = select(
        followed.c.source_id,
        followed.c.owner_id,
        followed.c.account_id,
        followed.c.network,
        literal("", String).label("own_title"),
    )
    # The values may be parameters (:func:`_filtered`): only ``is None`` is asked of them.
    if isinstance(filters.network, str) and filters.network == FEED:
        own = own.where(FeedSubscription.network == "")
        via = via.where(false())
    elif filters.network is not None:
        # One's own timelines on a network (a Mastodon home, the Bluesky accounts one follows)
        # and the accounts on it of the people one follows.
        own = own.where(FeedSubscription.network == filters.network)
        via = via.where(followed.c.network == filters.network)
    if filters.number is not None:  # read already (see _parsed)
        own = own.where(false())
        via = via.where(followed.c.owner_id == _person_id(filters.number))
    if filters.folder is not None:
        own = own.where(FeedSubscription.folder == filters.folder)
        via = via.where(false())
    if filters.source_id is not None:
        own = own.where(FeedSubscription.source_id == filters.source_id)
        via = via.where(followed.c.source_id == filters.source_id)
    return union_all(own, via)  # type: ignore[return-value]


def reading(viewer: User, filters: Filters = Filters()) -> Select[Any]:
    """What ``viewer`` reads (one row per way they read a source: ``source_id``,
    ``owner_id``, ``account_id``, ``network``, ``own_title``), for other ways of reading
    the feed (:mod:`.fever`)."""
    return _reading(viewer, _parsed(filters))


def search_words(q: str) -> list[str]:
    """The words of a search that can match anything: those with a letter or a digit."""
    return [word for word in q[:MAX_QUERY].split() if any(ch.isalnum() for ch in word)]


_SEARCH = "\x00words"
_NOTHING = "\x00nothing"
"""What stands for a search in the shape of a statement (:func:`_bound`): some words, or
none that can match; the words themselves are the parameter ``feed_search``."""


def _search_text(dialect: str, words: list[str]) -> str:
    """The words as the database's search reads them: plain on PostgreSQL
    (``plainto_tsquery`` knows no syntax), each a quoted string for FTS5, so that nothing a
    reader types (``"``, ``*``, ``AND (``, ``NEAR(``) is read as FTS5 syntax."""
    if dialect == "postgresql":
        return " ".join(words)
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _matches(dialect: str, marker: str) -> ColumnElement[bool]:
    if marker != _SEARCH:
        return false()
    words = bindparam("feed_search", type_=String())
    if dialect == "postgresql":
        return text(f"{PG_SEARCH} @@ plainto_tsquery('simple', :feed_search)").bindparams(words)  # type: ignore[return-value]
    found: Select[Any] = (
        select(column("rowid", Integer))
        .select_from(table("feed_entries_search"))
        .where(text("feed_entries_search MATCH :feed_search").bindparams(words))
    )
    return FeedEntry.id.in_(found)


def _state(viewer: User, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        FeedEntryState.user_id == viewer.id, FeedEntryState.entry_id == FeedEntry.id, *conditions
    )


def _entries_where(
    viewer: User, filters: Filters, sources: Subquery | CTE, dialect: str
) -> list[ColumnElement[bool]]:
    """What makes an entry one of the timeline's under ``filters``."""
    # "IS TRUE" keeps PostgreSQL from making the membership a join: it stays a hashed
    # subplan, the reader's sources hashed once and each entry read from the (sort_at, id)
    # index checked against them at once; as a semi-join it compared every entry with the
    # sources one by one (40,000 comparisons a page for a reader of 1,000 sources).
    where: list[ColumnElement[bool]] = [
        FeedEntry.source_id.in_(select(sources.c.source_id)).is_(true())
    ]
    if filters.source_id is not None:  # said again, for the (source_id, sort_at, id) index
        where.append(FeedEntry.source_id == filters.source_id)
    if filters.unread:
        where.append(~_state(viewer, FeedEntryState.read_at.is_not(None)))
    if filters.starred:
        starred = select(FeedEntryState.entry_id).where(
            FeedEntryState.user_id == viewer.id, FeedEntryState.starred_at.is_not(None)
        )
        where.append(FeedEntry.id.in_(starred))
    if filters.q is not None:
        where.append(_matches(dialect, filters.q))
    return where


def _before(at: Position, *, inclusive: bool = False) -> ColumnElement[bool]:
    """Entries after ``at`` on the timeline (older), compared as one row value."""
    here = tuple_(
        bindparam(None, at.at, type_=UTCDateTime()), bindparam(None, at.id, type_=Integer())
    )
    key = tuple_(FeedEntry.sort_at, FeedEntry.id)
    return key <= here if inclusive else key < here


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# --- the timeline ---------------------------------------------------------------------------


class _Viewer:
    """Who reads, as a parameter: statements built once for every reader."""

    id = bindparam("viewer_id", type_=Integer())


_VIEWER: Any = _Viewer()


def _parsed(filters: Filters) -> Filters:
    """``filters`` as the database can compare them: words without control characters
    (PostgreSQL refuses a NUL), the person's number read as typed (a mistyped one is a 422)."""
    cleaned = replace(
        filters,
        network=printable(filters.network),
        folder=printable(filters.folder),
        q=printable(filters.q),
    )
    if not cleaned.number:
        return cleaned
    return replace(cleaned, number=numbers.parse(cleaned.number))


def printable(text: str | None) -> str | None:
    """``text`` without its control characters (tabs and line ends become spaces)."""
    if text is None:
        return None
    return "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in text)


_PARAMETER = "\x00parameter"


def _bound(filters: Filters, dialect: str) -> tuple[Filters, dict[str, Any]]:
    """The shape of ``filters`` (each value replaced by a marker: what the statement is built
    from, and cached by), and the parameters' values."""
    values: dict[str, Any] = {}
    bound: dict[str, Any] = {}
    for name, value in (
        ("network", filters.network if filters.network != FEED else None),
        ("number", filters.number),
        ("folder", filters.folder),
        ("source_id", filters.source_id),
    ):
        if value:
            values[f"filter_{name}"] = value
            bound[name] = _PARAMETER
    if filters.network == FEED:
        bound["network"] = FEED
    if filters.q:
        words = search_words(filters.q)
        bound["q"] = _SEARCH if words else _NOTHING
        if words:
            values["feed_search"] = _search_text(dialect, words)
    shaped = replace(filters, network=None, number=None, folder=None, source_id=None, q=None)
    return replace(shaped, **bound), values


def _filtered(dialect: str, shape: Filters) -> tuple[Subquery, list[ColumnElement[bool]]]:
    """What any reader reads under the filters of ``shape`` (values as parameters), and
    what makes an entry one of their timeline's."""
    parameters: dict[str, Any] = {
        name: bindparam(f"filter_{name}", type_=Integer() if name == "source_id" else String())
        for name in ("network", "number", "folder", "source_id")
        if getattr(shape, name) == _PARAMETER
    }
    filters = replace(shape, **parameters)
    reading = _reading(_VIEWER, filters).subquery("reading")
    return reading, _entries_where(_VIEWER, filters, reading, dialect)


def _page(where: list[ColumnElement[bool]]) -> Subquery:
    """The ids and places of a page's entries, newest first: the (sort_at, id) index read
    backwards from the cursor, or (source_id, sort_at, id) for one source."""
    return (
        select(FeedEntry.id, FeedEntry.sort_at)
        .where(*where)
        .order_by(FeedEntry.sort_at.desc(), FeedEntry.id.desc())
        .limit(bindparam("page_limit", type_=Integer()))
        .subquery("page")
    )


@functools.lru_cache(maxsize=512)
def _page_statement(dialect: str, shape: Filters, after: bool) -> Executable:
    """The statement of a page of the timeline for any reader, filtered as ``shape`` says
    (its values are parameters): built once for each shape, so that a page costs SQLAlchemy
    no work of building or compiling."""
    reading, where = _filtered(dialect, shape)
    if after:
        here = tuple_(
            bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=Integer())
        )
        where.append(tuple_(FeedEntry.sort_at, FeedEntry.id) < here)
    page = _page(where)
    name_shown = privacy.name_sql(_VIEWER)
    statement = (
        select(
            *_ENTRY_COLUMNS,
            FeedSource.title.label("source_title"),
            reading.c.owner_id,
            reading.c.account_id,
            reading.c.network,
            reading.c.own_title,
            User.number,
            name_shown.label("display_name"),
            FeedEntryState.read_at,
            FeedEntryState.starred_at,
        )
        .select_from(page)
        .join(FeedEntry, FeedEntry.id == page.c.id)
        .join(FeedSource, FeedSource.id == FeedEntry.source_id)
        .join(reading, reading.c.source_id == FeedEntry.source_id)
        .outerjoin(User, User.id == reading.c.owner_id)
        .outerjoin(
            FeedEntryState,
            and_(FeedEntryState.user_id == _VIEWER.id, FeedEntryState.entry_id == FeedEntry.id),
        )
        .order_by(page.c.sort_at.desc(), page.c.id.desc(), reading.c.account_id)
    )
    return statement


_ENTRY_COLUMNS = (
    FeedEntry.id,
    FeedEntry.source_id,
    FeedEntry.title,
    FeedEntry.link,
    FeedEntry.html,
    FeedEntry.text,
    FeedEntry.author,
    FeedEntry.image,
    FeedEntry.published_at,
    FeedEntry.updated_at,
    FeedEntry.sort_at,
)


async def timeline(
    session: AsyncSession,
    viewer: User,
    filters: Filters = Filters(),
    *,
    after: Position | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of ``viewer``'s timeline, newest first, starting after ``after``: one query."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    dialect = _dialect(session)
    shape, values = _bound(_parsed(filters), dialect)
    statement = _page_statement(dialect, shape, after is not None)
    values.update(viewer_id=viewer.id, page_limit=limit + 1)
    if after is not None:
        values.update(after_at=after.at, after_id=after.id)
    rows = await session.execute(statement, values)
    items = _items(rows.all())
    more = len(items) > limit
    items = items[:limit]
    return Page(tuple(items), items[-1].position.cursor() if more else None)


def _items(rows: Sequence[Any]) -> list[Item]:
    """One item per entry from its rows (one per way the viewer reads its source): the
    subscriber's own title when they subscribe, the first person it came through."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.id, []).append(row)
    return [_item(group) for group in grouped.values()]


def _item(rows: list[Any]) -> Item:
    entry = rows[0]
    own = next((row for row in rows if row.owner_id is None), None)
    via = next((row for row in rows if row.owner_id is not None), None)
    person = None
    if via is not None:
        person = Person(via.number, numbers.display(via.number), via.display_name or None)
    return Item(
        id=entry.id,
        source_id=entry.source_id,
        source_title=(own.own_title if own is not None else "") or rows[0].source_title,
        network=via.network if via is not None else own.network if own is not None else FEED,
        person=person,
        account_id=via.account_id if via is not None else None,
        title=entry.title,
        link=entry.link,
        html=entry.html,
        text=entry.text,
        author=entry.author,
        image=entry.image,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        sort_at=entry.sort_at,
        read=rows[0].read_at is not None,
        starred=rows[0].starred_at is not None,
    )


# --- read and starred -----------------------------------------------------------------------


async def _mark(
    session: AsyncSession,
    viewer: User,
    chosen: Select[Any],
    column_name: str,
    now: datetime,
) -> int:
    """Set ``column_name`` (``read_at`` or ``starred_at``) on the entries ``chosen`` selects
    (their ids), where it is not set yet: one statement. The number of entries changed."""
    rows = select(
        literal(viewer.id, Integer), chosen.subquery().c.id, bindparam(None, now, UTCDateTime())
    )
    insert = upsert(session)(FeedEntryState).from_select(
        ["user_id", "entry_id", column_name], rows.where(literal(True))
    )
    current = getattr(FeedEntryState, column_name)
    insert = insert.on_conflict_do_update(
        index_elements=["user_id", "entry_id"],
        set_={column_name: getattr(insert.excluded, column_name)},
        where=current.is_(None),
    )
    result = await session.execute(insert)
    return int(getattr(result, "rowcount", 0) or 0)


async def _unmark(
    session: AsyncSession,
    viewer: User,
    chosen: Select[Any],
    column_name: str,
) -> int:
    current = getattr(FeedEntryState, column_name)
    result = await session.execute(
        update(FeedEntryState)
        .where(
            FeedEntryState.user_id == viewer.id,
            FeedEntryState.entry_id.in_(chosen),
            current.is_not(None),
        )
        .values({column_name: None})
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _visible(viewer: User, ids: Iterable[int]) -> Select[Any]:
    """The ids among ``ids`` of entries ``viewer`` reads; the others are not there."""
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})[:MAX_IDS]
    sources = _reading(viewer, Filters()).subquery("reading")
    return select(FeedEntry.id).where(
        FeedEntry.id.in_(wanted), FeedEntry.source_id.in_(select(sources.c.source_id))
    )


async def mark_read(
    session: AsyncSession,
    viewer: User,
    ids: Sequence[int],
    *,
    read: bool = True,
    now: datetime | None = None,
) -> int:
    """Mark entries read (or unread again); ids of entries the viewer does not read are
    passed over, as if there were none. How many entries changed."""
    if len(ids) > MAX_IDS:
        raise InvalidInput("Mark at most %(count)d entries at once.", field="ids", count=MAX_IDS)
    chosen = _visible(viewer, ids)
    if read:
        return await _mark(session, viewer, chosen, "read_at", now or utcnow())
    return await _unmark(session, viewer, chosen, "read_at")


async def mark_all_read(
    session: AsyncSession,
    viewer: User,
    filters: Filters = Filters(),
    *,
    up_to: Position | None = None,
    read: bool = True,
    now: datetime | None = None,
) -> int:
    """Mark read (or unread) every entry of the timeline under ``filters`` at ``up_to`` and
    older (all of them without it), in one statement. How many entries changed."""
    dialect = _dialect(session)
    shape, values = _bound(_parsed(filters), dialect)
    values["viewer_id"] = viewer.id
    _, where = _filtered(dialect, shape)
    if up_to is not None:
        where.append(_before(up_to, inclusive=True))
    chosen = select(FeedEntry.id).where(*where).params(values)
    if read:
        return await _mark(session, viewer, chosen, "read_at", now or utcnow())
    return await _unmark(session, viewer, chosen, "read_at")


async def star(
    session: AsyncSession,
    viewer: User,
    entry_id: int,
    *,
    starred: bool = True,
    now: datetime | None = None,
) -> None:
    """Star an entry of the viewer's feed (or take the star off); any other entry, or one
    that does not exist, is :class:`NotFound` alike."""
    await _set(session, viewer, entry_id, None, starred, now)


async def set_state(
    session: AsyncSession,
    viewer: User,
    entry_id: int,
    *,
    read: bool | None = None,
    starred: bool | None = None,
    now: datetime | None = None,
) -> tuple[bool, bool]:
    """Mark one entry of the viewer's feed read or unread, starred or not (what is None is
    left as it is); any other entry, or one that does not exist, is :class:`NotFound` alike.
    The entry's state after: (read, starred)."""
    await _set(session, viewer, entry_id, read, starred, now)
    row = (
        await session.execute(
            select(FeedEntryState.read_at, FeedEntryState.starred_at).where(
                FeedEntryState.user_id == viewer.id, FeedEntryState.entry_id == entry_id
            )
        )
    ).first()
    return (
        row is not None and row.read_at is not None,
        row is not None and row.starred_at is not None,
    )


async def _set(
    session: AsyncSession,
    viewer: User,
    entry_id: int,
    read: bool | None,
    starred: bool | None,
    now: datetime | None,
) -> None:
    """:func:`set_state` without reading the state back."""
    chosen = _visible(viewer, [entry_id])
    if await session.scalar(chosen) is None:
        raise NotFound(NO_ENTRY)
    now = now or utcnow()
    for name, wanted in (("read_at", read), ("starred_at", starred)):
        if wanted is True:
            await _mark(session, viewer, chosen, name, now)
        elif wanted is False:
            await _unmark(session, viewer, chosen, name)


async def count_newer(
    session: AsyncSession,
    viewer: User,
    filters: Filters,
    than: Position,
    *,
    limit: int = MAX_PAGE_SIZE,
) -> int:
    """How many entries of the timeline under ``filters`` stand before ``than`` (newer), up to
    ``limit``: what an open page tells its reader has come since it was shown."""
    dialect = _dialect(session)
    shape, values = _bound(_parsed(filters), dialect)
    values["viewer_id"] = viewer.id
    _, where = _filtered(dialect, shape)
    here = tuple_(
        bindparam(None, than.at, type_=UTCDateTime()), bindparam(None, than.id, type_=Integer())
    )
    where.append(tuple_(FeedEntry.sort_at, FeedEntry.id) > here)
    newer = select(FeedEntry.id).where(*where).limit(limit).subquery("newer")
    found = await session.scalar(select(func.count()).select_from(newer).params(values))
    return int(found or 0)
