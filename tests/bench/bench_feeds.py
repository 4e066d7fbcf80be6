"""How fast feeds are polled (``make bench``), through the real poller round on SQLite, the
feeds served over real HTTP by :mod:`tests.bench.feed_server` in a process of its own, on
:data:`HOSTS` loopback addresses (each its own host for the per-host limit, as feeds are
spread over many hosts on the web), the address guard letting loopback through.

- **Ingest**: the real feeds of ``../shared/corpus/feeds/real``, each served at
  :data:`INGEST_REPEATS` addresses, so that every source is new: fetched, parsed, sanitised
  and stored (entries per second). The baseline: ``feedparser.parse`` alone on the same bytes,
  as many times, in the same run. Target: at least 0.7 of it. Each is measured
  :data:`TRIALS` times, taking turns, and the best of each kept: the machine may be shared
  (a virtual one's neighbours take its processors at moments of their choosing), and a
  moment taken from one side only would weigh on the ratio.
- **Unchanged**: :data:`SOURCES` sources whose server answers ``304 Not Modified`` to their
  validators: sources polled and recorded per second. Target: at least 1,000 a second, and at
  least :data:`UNCHANGED_TARGET` of the baseline: the same conditional GETs sent with nothing
  else, in the same run (:func:`bare_http`), which says how much the poller adds to HTTP
  itself on whatever machine runs it. Also the same per second of CPU used by the poller's
  process, what a core of its own would do (on a shared machine the first figure is what the
  poller was given). The same again on PostgreSQL, when a server can be reached as for
  :mod:`tests.bench.bench_lookup`.

Results go to ``bench/results/latest.json`` (see :mod:`tests.bench.results`).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import feedparser
import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors._addresses import AddressPolicy
from portal.db import make_engine, make_sessionmaker
from portal.domain.feeds import poller
from portal.net import GuardedTransport
from portal.storage import migrate
from portal.storage.models import FeedSource, utcnow
from portal.workers import Workers
from tests.bench import bench_lookup
from tests.bench.results import Figure, record, table

HOSTS = 100
SOURCES = 10_000
INGEST_REPEATS = 30
TRIALS = 3
INGEST_TARGET = 0.7
UNCHANGED_LIMIT = 1000.0
UNCHANGED_TARGET = 0.5
PARSERS = Workers(workers=poller.PARSERS, tasks_per_worker=poller.PARSED_PER_PROCESS)
"""The poller's parsing processes, as :func:`portal.deps.feed_poller` gives them: started by
the warm-up, kept for the whole run."""


def corpus() -> Path:
    """``shared/corpus/feeds/real`` beside the repository, or beside one of its parents (a
    worktree of it)."""
    here = Path(__file__).resolve().parents[2]
    for folder in (here, *here.parents):
        found = folder.parent / "shared" / "corpus" / "feeds" / "real"
        if found.is_dir():
            return found
    raise SystemExit("the corpus of feeds (../shared/corpus/feeds/real) is not there")


@contextmanager
def feed_server(directory: Path) -> Iterator[int]:
    """:mod:`tests.bench.feed_server` serving ``directory``: its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.feed_server", str(directory), str(HOSTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


def _host(n: int) -> str:
    n = n % HOSTS + 2
    return f"127.0.{n // 256}.{n % 256}"


async def _database(folder: Path, name: str) -> AsyncEngine:
    engine = make_engine(f"sqlite+aiosqlite:///{folder / name}.db")
    await migrate.upgrade(engine)
    return engine


async def _postgres_database() -> tuple[AsyncEngine, str] | None:
    """A fresh PostgreSQL database (see :data:`tests.bench.bench_lookup.POSTGRES`), migrated,
    and its name; ``None`` when there is no server to make one on."""
    name = f"portal_bench_{uuid.uuid4().hex[:12]}"
    try:
        await bench_lookup._admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL left out: cannot create a database ({exc})")
        return None
    engine = make_engine(bench_lookup._postgres(name).render_as_string(hide_password=False))
    await migrate.upgrade(engine)
    return engine, name


async def _round(engine: AsyncEngine, urls: list[str], etag: str | None) -> poller.Round:
    sessions = make_sessionmaker(engine)
    due = utcnow() - timedelta(minutes=1)
    async with sessions() as session:
        for start in range(0, len(urls), 1000):
            rows = [
                {"url": url, "etag": etag, "next_poll_at": due}
                for url in urls[start : start + 1000]
            ]
            await session.execute(insert(FeedSource), rows)
        await session.commit()
    return await poller.Poller(sessions, allow_loopback=True, parsers=PARSERS).round()


async def ingest(folder: Path, port: int, files: list[Path], repeats: int) -> tuple[int, float]:
    """Entries stored, and the seconds the round took."""
    engine = await _database(folder, f"ingest-{uuid.uuid4().hex[:8]}")
    urls = [
        f"http://{_host(n)}:{port}/r{n}/{path.name}"
        for n, path in enumerate(path for _ in range(repeats) for path in files)
    ]
    try:
        started = time.perf_counter()
        done = await _round(engine, urls, None)
        took = time.perf_counter() - started
    finally:
        await engine.dispose()
    if done.polled != len(urls) or done.failed:
        raise SystemExit(f"ingest: {done}")
    return done.new, took


def feedparser_alone(files: list[Path], repeats: int) -> tuple[int, float]:
    """Entries feedparser finds in the same bytes, as many times, and the seconds it took."""
    bodies = [path.read_bytes() for path in files]
    entries = 0
    started = time.perf_counter()
    for _ in range(repeats):
        for body in bodies:
            entries += len(feedparser.parse(body).entries)
    return entries, time.perf_counter() - started


async def unchanged(
    folder: Path, port: int, sources: int, *, postgres: bool = False
) -> tuple[float, float] | None:
    """Seconds to poll ``sources`` sources that all answer 304, and the seconds of CPU this
    process used meanwhile (the machine may be shared: what a core would do alone)."""
    made = await _postgres_database() if postgres else None
    if postgres and made is None:
        return None
    engine = made[0] if made else await _database(folder, f"unchanged{sources}")
    urls = [f"http://{_host(n)}:{port}/u{n}/feed.xml" for n in range(sources)]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        done = await _round(engine, urls, '"v1"')
        took, used = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await engine.dispose()
        if made:
            await bench_lookup._admin(f'DROP DATABASE IF EXISTS "{made[1]}" WITH (FORCE)')
    if done.not_modified != sources:
        raise SystemExit(f"unchanged: {done}")
    return took, used


async def bare_http(port: int, sources: int) -> float:
    """Seconds to send the conditional GETs of :func:`unchanged` with nothing else: the
    guarded transport alone (the poller's), a pool for each host of as many connections as
    the poller opens to a host, as many requests at once as it sends, no database."""
    policy = AddressPolicy(allow_loopback=True)
    pools: dict[str, GuardedTransport] = {}
    at_once = asyncio.Semaphore(poller.CONCURRENCY)
    timeout = httpx.Timeout(10.0).as_dict()

    async def get(n: int) -> None:
        host = _host(n)
        pool = pools.get(host) or pools.setdefault(
            host, GuardedTransport(policy, connections=poller.PER_HOST, keepalive=poller.PER_HOST)
        )
        async with at_once:
            request = httpx.Request(
                "GET",
                f"http://{host}:{port}/u{n}/feed.xml",
                headers={"if-none-match": '"v1"'},
                extensions={"timeout": timeout},
            )
            response = await pool.handle_async_request(request)
            await response.aread()
            await response.aclose()
            if response.status_code != 304:
                raise SystemExit(f"bare HTTP: {response.status_code}")

    started = time.perf_counter()
    for start in range(0, sources, 1000):
        await asyncio.gather(*(get(n) for n in range(start, min(start + 1000, sources))))
    took = time.perf_counter() - started
    for pool in pools.values():
        await pool.aclose()
    return took


async def measure(folder: Path) -> list[Figure]:
    files = sorted(path for path in corpus().iterdir() if path.suffix in (".xml", ".json"))
    with feed_server(corpus()) as port:
        await ingest(folder, port, files, 1)  # warm-up: imports, first connections
        await unchanged(folder, port, 200)
        ingested, alone = 0.0, 0.0
        for _ in range(TRIALS):
            stored, took = await ingest(folder, port, files, INGEST_REPEATS)
            ingested = max(ingested, stored / took)
            parsed, seconds = feedparser_alone(files, INGEST_REPEATS)
            alone = max(alone, parsed / seconds)
        await bare_http(port, 200)
        bare = await bare_http(port, SOURCES)
        measured = await unchanged(folder, port, SOURCES)
        on_postgres = await unchanged(folder, port, SOURCES, postgres=True)
    assert measured is not None
    seconds, cpu = measured
    return [
        Figure(
            "feeds: ingest (fetch, parse, sanitise, store; SQLite)",
            ingested,
            "entries/s",
            baseline=alone,
            target=INGEST_TARGET,
            at_least=True,
        ),
        Figure(
            f"feeds: {SOURCES:,} unchanged sources polled (304; SQLite)",
            SOURCES / seconds,
            "sources/s",
            baseline=SOURCES / bare,
            target=UNCHANGED_TARGET,
            at_least=True,
            limit=UNCHANGED_LIMIT,
        ),
        Figure(
            f"feeds: {SOURCES:,} unchanged sources per second of CPU (304; SQLite)",
            SOURCES / cpu,
            "sources/s",
        ),
        *(
            [
                Figure(
                    f"feeds: {SOURCES:,} unchanged sources polled (304; PostgreSQL)",
                    SOURCES / on_postgres[0],
                    "sources/s",
                    baseline=SOURCES / bare,
                    target=UNCHANGED_TARGET,
                    at_least=True,
                    limit=UNCHANGED_LIMIT,
                )
            ]
            if on_postgres
            else []
        ),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            figures = asyncio.run(measure(Path(folder)))
        finally:
            PARSERS.close()
    record(figures, "feeds:")
    print(table(figures))


if __name__ == "__main__":
    main()
