"""How fast a number is looked up, over real HTTP (``make bench``).

A real ``portal serve`` process (one uvicorn worker, rate limits off) serves 2,000 people who
each show 12 linked accounts, first on SQLite, then on a fresh PostgreSQL database (created
here and dropped after; on 127.0.0.1:5432 unless ``PORTAL_BENCH_POSTGRES_URL`` names another
server; left out, with a message, when it cannot be reached). Debian's ``wrk``, a process of
its own, keeps 64 connections busy on ``GET /healthz`` (the baseline: what the framework
costs), then on ``GET /api/v1/numbers/<n>`` as an anonymous visitor, in turns.

The target: one number looked up again and again (the card the portal keeps, every lookup
still checking that nothing changed) at least 0.5 × the rate of ``/healthz``, with its p99 at
most 3 × its p50. For reading it, the same from a second portal that keeps no card
(``PORTAL_CARD_CACHE_SIZE=0``), a number picked at random among the 2,000 for each request:
what a lookup costs the database, with no target. Figures for each database and path: both
rates, the lookup's as a share of the baseline's, the lookup's p50 and p99, and the p99 of
/healthz (what the machine adds).

One figure is measured in-process: what one card costs in a batch of 100 (as search, discovery
and the contact list build them), against a single card. Results go to
``bench/results/latest.json`` (see :mod:`tests.bench.results`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import URL, make_url

from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import privacy
from portal.storage.models import LinkedAccount, User
from tests.bench.results import Figure, record, table
from tests.fixtures.live import LiveServer, start_server, stop_server
from tests.portal.domain import people

ACCOUNTS = 12
PEOPLE = 2000
CONNECTIONS = 64
SECONDS = 4
ROUNDS = 3
WARM_UP_SECONDS = 2
RATIO_TARGET = 0.5
SPREAD_TARGET = 3.0
POSTGRES = os.environ.get("PORTAL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
"""A PostgreSQL server where the benchmark may create and drop a database."""
LUA = Path(__file__).with_name("wrk_json.lua")


@dataclass(frozen=True)
class Load:
    """What wrk measured on one path."""

    rate: float
    """Requests answered per second."""
    p50: float
    p99: float
    """Latencies in milliseconds."""


def wrk(url: str, seconds: int = SECONDS, paths: Path | None = None) -> Load:
    """Keep :data:`CONNECTIONS` connections busy on ``url`` for ``seconds`` (on one of
    ``paths``, a file of them, at random for each request); every answer must be a 2xx, else
    the figures would measure something else."""
    command = [
        "wrk",
        "--threads",
        "2",
        "--connections",
        str(CONNECTIONS),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(LUA),
        url,
        *(["--", str(paths)] if paths else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["failed"] or summary["not_2xx"] or not summary["requests"]:
        raise RuntimeError(f"{url}: {summary}")
    return Load(
        rate=summary["requests"] / (summary["duration_us"] / 1e6),
        p50=summary["p50_us"] / 1e3,
        p99=summary["p99_us"] / 1e3,
    )


async def seed(database_url: str) -> list[User]:
    """:data:`PEOPLE` people found by number, each showing :data:`ACCOUNTS` public accounts."""
    engine = make_engine(database_url)
    try:
        # Begun as a writer: the server, running on the same file, writes meanwhile.
        async with session_scope(make_sessionmaker(engine), writing=True) as db:
            owners = []
            for i in range(PEOPLE):
                owner = await people.person(db, f"Person {i}", bio="Chess and tea.")
                db.add_all(
                    LinkedAccount(
                        user_id=owner.id,
                        network="github",
                        handle=f"person{i}-{j}",
                        status="unverified",
                        position=j,
                        audience="public",
                    )
                    for j in range(ACCOUNTS)
                )
                owners.append(owner)
        return owners
    finally:
        await engine.dispose()


def _rounds(url: str, lookup: str, paths: Path | None = None) -> tuple[Load, Load]:
    """Both paths in turns of :data:`SECONDS` each, :data:`ROUNDS` times: on a machine shared
    with other work, the load drifts, and both figures see the same drift. Rates are averaged
    over the turns; latencies are the medians of the turns'."""
    healthz, found = [], []
    for _ in range(ROUNDS):
        healthz.append(wrk(url))
        found.append(wrk(lookup, paths=paths))

    def merged(loads: list[Load]) -> Load:
        return Load(
            rate=statistics.fmean(load.rate for load in loads),
            p50=statistics.median(load.p50 for load in loads),
            p99=statistics.median(load.p99 for load in loads),
        )

    return merged(healthz), merged(found)


def over_http(server: LiveServer, number: str, label: str) -> list[Figure]:
    """One number again and again: the card kept by the portal (the warm path)."""
    lookup = f"{server.url}/api/v1/numbers/{number}"
    card = httpx.get(lookup, timeout=10).raise_for_status().json()
    assert len(card["accounts"]) == ACCOUNTS, card  # the card measured is the one described
    wrk(f"{server.url}/healthz", WARM_UP_SECONDS)
    wrk(lookup, WARM_UP_SECONDS)
    healthz, found = _rounds(f"{server.url}/healthz", lookup)
    return _figures(f"lookup over HTTP, {label}:", "one number", healthz, found, targets=True)


def cold_over_http(
    server: LiveServer, numbers: list[str], label: str, workdir: Path
) -> list[Figure]:
    """A number picked at random among :data:`PEOPLE` for each request, from a portal that
    keeps no card (the cold path: what a lookup costs the database)."""
    paths = workdir / "paths.txt"
    paths.write_text("".join(f"/api/v1/numbers/{number}\n" for number in numbers))
    card = httpx.get(f"{server.url}/api/v1/numbers/{numbers[0]}", timeout=10)
    assert len(card.raise_for_status().json()["accounts"]) == ACCOUNTS
    wrk(f"{server.url}/healthz", WARM_UP_SECONDS)
    wrk(server.url, WARM_UP_SECONDS, paths=paths)
    healthz, found = _rounds(f"{server.url}/healthz", server.url, paths=paths)
    return _figures(
        f"lookup over HTTP, {label}, uncached:", f"{PEOPLE} numbers", healthz, found, targets=False
    )


def _figures(prefix: str, which: str, healthz: Load, found: Load, *, targets: bool) -> list[Figure]:
    return [
        Figure(f"{prefix} GET /healthz", healthz.rate, "req/s"),
        # What the machine itself adds to the tail, for reading the lookup's p99.
        Figure(f"{prefix} /healthz p99", healthz.p99, "ms"),
        Figure(
            f"{prefix} GET /api/v1/numbers/<n>, {which}, {ACCOUNTS} accounts",
            found.rate,
            "req/s",
            healthz.rate,
            RATIO_TARGET if targets else None,
            at_least=True,
        ),
        Figure(f"{prefix} lookup p50", found.p50, "ms"),
        Figure(
            f"{prefix} lookup p99 against p50",
            found.p99,
            "ms",
            found.p50,
            SPREAD_TARGET if targets else None,
        ),
    ]


def on_database(database_url: str, label: str) -> tuple[list[Figure], list[User]]:
    """The warm path, then the cold one from a second portal that keeps no card."""
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-lookup-"))
    try:
        server = start_server(database_url, workdir, PORTAL_RATE_LIMITS_ENABLED="false")
        try:
            owners = asyncio.run(seed(database_url))
            figures = over_http(server, owners[PEOPLE // 2].number, label)
        finally:
            stop_server(server)
        server = start_server(
            database_url,
            workdir,
            PORTAL_RATE_LIMITS_ENABLED="false",
            PORTAL_CARD_CACHE_SIZE="0",
        )
        try:
            numbers = [owner.number for owner in owners]
            figures += cold_over_http(server, numbers, label, workdir)
        finally:
            stop_server(server)
        return figures, owners
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres(database: str) -> URL:
    return make_url(POSTGRES).set(drivername="postgresql+asyncpg", database=database)


async def _admin(sql: str) -> None:
    admin = _postgres("postgres").set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def on_postgres() -> list[Figure]:
    name = f"portal_bench_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL left out: cannot create a database on 127.0.0.1:5432 ({exc})")
        return []
    try:
        url = _postgres(name).render_as_string(hide_password=False)
        figures, _ = on_database(url, "PostgreSQL")
        return figures
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _median(action: Callable[[], Awaitable[object]], rounds: int) -> float:
    for _ in range(5):  # warm up
        await action()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def in_batches(database_url: str, owners: list[User]) -> Figure:
    """What one card costs in a batch of 100, against one card alone."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            one = await _median(lambda: privacy.cards_for(db, None, owners[:1]), rounds=100)
            many = await _median(lambda: privacy.cards_for(db, None, owners[:100]), rounds=30)
    finally:
        await engine.dispose()
    return Figure("lookup: one card in a batch of 100", many / 100 * 1e3, "ms", one * 1e3)


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (make bench does)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-lookup-sqlite-"))
    sqlite = f"sqlite+aiosqlite:///{workdir}/bench.db"
    try:
        figures, owners = on_database(sqlite, "SQLite")
        figures += on_postgres()
        figures.append(asyncio.run(in_batches(sqlite, owners)))
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"cannot run the lookup benchmark: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    record(figures, "lookup")
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
