"""What a page of the unified feed costs PostgreSQL for a heavy reader
(``python -m tests.bench.bench_timeline``).

A fresh database (created here, dropped after; on 127.0.0.1:5432 unless
``PORTAL_BENCH_POSTGRES_URL`` names another server) holds one reader with 1,000 sources: 800
feeds they subscribe to in 10 folders, and 200 through 20 people they follow (10 public
accounts each); 1,000,000 entries in them, 300,000 more in 300 sources they do not read, and
30 % of their entries read, 1 % starred. Every page is :func:`portal.domain.feeds.read.timeline`
itself, timed from the call to its return, walked page after page from the top to page 500;
filtered timelines are walked 100 pages. The plans of page 1 and page 500 are printed
(``EXPLAIN (ANALYZE, BUFFERS)`` of the very statement the function sent), with the indexes they
use. The target: p99 under 20 ms a page.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.db import make_engine, make_sessionmaker
from portal.domain.feeds import read
from portal.storage import migrate
from portal.storage.models import User
from tests.bench.results import Figure, record, table
from tests.portal.domain import people

POSTGRES = os.environ.get("PORTAL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
SUBSCRIBED = 800
FOLLOWED_PEOPLE = 20
ACCOUNTS_EACH = 10
ENTRIES = 1_000_000
NOISE_SOURCES = 300
NOISE_ENTRIES = 300_000
DEEP_PAGE = 500
TARGET_MS = 20.0
PG_SEARCH = "to_tsvector('simple'::regconfig, left(title || ' ' || text, 200000))"


def _url(database: str) -> URL:
    return make_url(POSTGRES).set(drivername="postgresql+asyncpg", database=database)


async def _admin(sql: str) -> None:
    admin = _url("postgres").set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# The statements below are made of this module's own numbers, never of input.
async def _fill(engine: AsyncEngine) -> User:
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        reader = await people.person(db, "Reader")
        owners = [await people.person(db, f"Owner {i}") for i in range(FOLLOWED_PEOPLE)]
        await db.commit()
    total = SUBSCRIBED + FOLLOWED_PEOPLE * ACCOUNTS_EACH
    steps = [
        f"""INSERT INTO feed_sources (id, url, kind, title, next_poll_at, failures, created_at)
        SELECT g, 'https://feeds.example/' || g, 'rss', 'Source ' || g, now(), 0, now()
        FROM generate_series(1, {total + NOISE_SOURCES}) g""",  # noqa: S608
        f"""SELECT setval('feed_sources_id_seq', {total + NOISE_SOURCES})""",
        f"""INSERT INTO feed_subscriptions (user_id, source_id, title, folder, created_at)
        SELECT {reader.id}, g, '', 'Folder ' || (g % 10), now()
        FROM generate_series(1, {SUBSCRIBED}) g""",  # noqa: S608
        *(
            f"""INSERT INTO linked_accounts (user_id, network, handle, server, display_name,
            status, position, problem, audience, feed_source_id, created_at, updated_at)
            SELECT {owner.id}, 'net' || (g % 4), 'h' || g, '', '', 'verified', g, '',
            'public', g, now(), now()
            FROM generate_series({SUBSCRIBED + 1 + i * ACCOUNTS_EACH},
                                 {SUBSCRIBED + (i + 1) * ACCOUNTS_EACH}) g"""  # noqa: S608
            for i, owner in enumerate(owners)
        ),
        *(
            f"""INSERT INTO follows (user_id, owner_id, created_at)
            VALUES ({reader.id}, {owner.id}, now())"""  # noqa: S608
            for owner in owners
        ),
        "DROP INDEX ix_feed_entries_search",
        _entries(1, ENTRIES, total),
        _entries(ENTRIES + 1, ENTRIES + NOISE_ENTRIES, NOISE_SOURCES, first_source=total + 1),
        f"SELECT setval('feed_entries_id_seq', {ENTRIES + NOISE_ENTRIES})",
        f"CREATE INDEX ix_feed_entries_search ON feed_entries USING gin ({PG_SEARCH})",
        f"""INSERT INTO feed_entry_states (user_id, entry_id, read_at, starred_at)
        SELECT {reader.id}, id, CASE WHEN id % 10 < 3 THEN now() END,
               CASE WHEN id % 100 = 7 THEN now() END
        FROM feed_entries WHERE id <= {ENTRIES} AND (id % 10 < 3 OR id % 100 = 7)""",  # noqa: S608
        "VACUUM ANALYZE",
    ]
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for sql in steps:
            started = time.perf_counter()
            await conn.execute(text(sql))
            print(f"  {time.perf_counter() - started:6.1f} s  {' '.join(sql.split())[:70]}")
    return reader


def _entries(first: int, last: int, sources: int, *, first_source: int = 1) -> str:
    """Entries spread over ``sources`` and two years, titles and texts of common and rare
    words (``w<n>``: word n is in about 1 entry in n)."""
    return f"""INSERT INTO feed_entries (id, source_id, key_hash, title, html, text, digest,
        sort_at, first_seen_at)
        SELECT g, {first_source} + (g::bigint * 7919) % {sources}, md5(g::text),
            'w' || (1 + g % 3) || ' w' || (1 + g % 97) || ' title ' || g, '<p>x</p>',
            'w' || (1 + g % 1009) || ' w' || (1 + g % 10007) || ' ' || repeat('lorem ', 30),
            'd', now() - (g::bigint * 7919 % 63072000) * interval '1 second'
                 - (g % 1000) * interval '1 microsecond', now()
        FROM generate_series({first}, {last}) g"""  # noqa: S608


@contextmanager
def _sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)


async def _walk(
    db: AsyncSession, reader: User, filters: read.Filters, pages: int
) -> tuple[list[float], read.Position | None]:
    """Milliseconds of each page from the top; where the last page walked starts."""
    times: list[float] = []
    after = None
    last = None
    for _ in range(pages):
        started = time.perf_counter()
        page = await read.timeline(db, reader, filters, after=after)
        times.append((time.perf_counter() - started) * 1000)
        last = after
        if page.next_cursor is None:
            break
        after = read.position(page.next_cursor)
    return times, last


async def _explain(
    engine: AsyncEngine, db: AsyncSession, reader: User, filters: read.Filters, at: Any
) -> str:
    with _sent(engine) as statements:
        await read.timeline(db, reader, filters, after=at)
    [(statement, parameters)] = statements
    conn = await db.connection()
    rows = await conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
    )
    return "\n".join(row[0] for row in rows)


_INDEX = re.compile(
    r"(?:Index|Index Only) Scan(?: Backward)? using (\w+)|Bitmap Index Scan on (\w+)"
)


def _indexes(plan: str) -> list[str]:
    return sorted({a or b for a, b in _INDEX.findall(plan)})


def _runtime(plan: str) -> str:
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return found.group(1) if found else "?"


async def main() -> int:
    reused = os.environ.get("BENCH_DATABASE")  # one a run kept (BENCH_KEEP=1), filled already
    name = reused or f"bench_timeline_{uuid.uuid4().hex[:8]}"
    if not reused:
        await _admin(f'CREATE DATABASE "{name}"')
    engine = make_engine(_url(name).render_as_string(hide_password=False))
    worst = 0.0
    try:
        if reused:
            async with make_sessionmaker(engine)() as db:
                reader = await db.get_one(User, 1)
        else:
            await migrate.upgrade(engine)
            print("filling")
            reader = await _fill(engine)
        owner_number = await _owner_number(engine)
        cases = {
            "everything": (read.Filters(), DEEP_PAGE),
            "unread": (read.Filters(unread=True), 100),
            "starred": (read.Filters(starred=True), 100),
            "folder": (read.Filters(folder="Folder 3"), 100),
            "network feed": (read.Filters(network="feed"), 100),
            "network net1": (read.Filters(network="net1"), 100),
            "person": (read.Filters(number=owner_number), 100),
            "source": (read.Filters(source_id=5), 100),
            "q common word": (read.Filters(q="w2"), 100),
            "q rare words": (read.Filters(q="w5 w7"), 100),
        }
        sessions = make_sessionmaker(engine)
        figures: list[Figure] = []
        async with sessions() as db:
            baseline = await _plain_reads(db)
        for label, (filters, pages) in cases.items():
            async with sessions() as db:
                await _walk(db, reader, filters, 3)  # warm
                times, deepest = await _walk(db, reader, filters, pages)
                ordered = sorted(times)
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                worst = max(worst, p99)
                figures.append(
                    Figure(
                        f"timeline: {label}, pages 1-{len(times)}, p99",
                        p99,
                        "ms",
                        baseline=baseline,
                        limit=TARGET_MS,
                    )
                )
                first = await _explain(engine, db, reader, filters, None)
                deep = await _explain(engine, db, reader, filters, deepest)
                print(
                    f"{label:14} pages {len(times):4}  p50 {statistics.median(times):6.2f} ms"
                    f"  p99 {p99:6.2f} ms  max {max(times):6.2f} ms"
                )
                print(f"   page 1: {_runtime(first)} ms in SQL, indexes {_indexes(first)}")
                print(f"   page {len(times)}: {_runtime(deep)} ms in SQL, indexes {_indexes(deep)}")
                if label == "everything" or os.environ.get("BENCH_PLANS"):
                    print("   --- plan of page 1 ---\n" + first)
                    print(f"   --- plan of page {len(times)} ---\n" + deep)
    finally:
        await engine.dispose()
        if not os.environ.get("BENCH_KEEP") and not reused:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print("kept", name)
    print(f"worst p99 {worst:.2f} ms (target {TARGET_MS} ms)")
    record(figures, "timeline:")
    print(table(figures))
    return 0


async def _plain_reads(db: AsyncSession, rounds: int = 300) -> float:
    """The baseline: p99 of reading 50 entries by their primary key, newest first, through the
    same session: what a page costs the database before any of the timeline's rules."""
    times = []
    statement = text(
        "SELECT id, title, html FROM feed_entries WHERE id <= :top ORDER BY id DESC LIMIT 50"
    )
    for n in range(rounds):
        started = time.perf_counter()
        (await db.execute(statement, {"top": ENTRIES - n * 997})).all()
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return ordered[int(len(ordered) * 0.99)]


async def _owner_number(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT number FROM users WHERE display_name = 'Owner 3'"))
    return str(found)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
