"""The SQLite database is the portal's to read alone, and forgets what is deleted."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from portal import cli, db
from portal.config import _default_secret_key, get_settings
from portal.db import make_engine, make_sessionmaker, session_scope, write_next


def _begins(engine: Any) -> list[str]:
    """The ``BEGIN`` statements ``engine`` sends from now on, as it sends them."""
    begun: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begun.append(statement)

    return begun


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The working directory is a fresh one, with a umask that lets everyone read."""
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)


def test_migrate_makes_var_and_the_database_private(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PORTAL_DATABASE_URL", "PORTAL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 40)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    var = in_tmp / "var"
    assert _mode(var) == 0o700
    files = sorted(var.iterdir())
    assert in_tmp / "var" / "portal.db" in files
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_an_existing_var_is_made_private(in_tmp: Path) -> None:
    (in_tmp / "var").mkdir(mode=0o755)
    assert _default_secret_key()
    assert _mode(in_tmp / "var") == 0o700
    assert _mode(in_tmp / "var" / "secret_key") == 0o600


async def test_an_existing_database_file_is_made_private(in_tmp: Path) -> None:
    database = in_tmp / "data" / "portal.db"
    database.parent.mkdir(mode=0o755)
    database.touch(mode=0o644)
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
    finally:
        await engine.dispose()
    assert _mode(database) == 0o600
    # Not the portal's own var/: a directory the operator chose keeps its mode.
    assert _mode(database.parent) == 0o755


async def test_a_deleted_row_leaves_no_trace_in_the_file(in_tmp: Path) -> None:
    database = in_tmp / "var" / "portal.db"
    secret = "Ada's very private note 7f3c9e"
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
            for number in range(50):
                await conn.execute(
                    text("INSERT INTO notes (body) VALUES (:body)"),
                    {"body": f"{secret} {number}" if number == 25 else "filler " * 20},
                )
        async with engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        assert secret.encode() in database.read_bytes()
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM notes WHERE body LIKE 'Ada%'"))
        async with engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    leftovers = b"".join(path.read_bytes() for path in database.parent.glob("portal.db*"))
    assert secret.encode() not in leftovers


async def test_a_session_that_writes_begins_each_transaction_as_a_writer(in_tmp: Path) -> None:
    """After a commit too: a picture is stored in a second transaction, after it decoded."""
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp}/begin.db")
    begun = _begins(engine)

    factory = make_sessionmaker(engine)
    try:
        async with session_scope(factory, writing=True) as session:
            await session.execute(text("SELECT 1"))
            await session.commit()
            await session.execute(text("SELECT 2"))
        async with session_scope(factory) as session:
            await session.execute(text("SELECT 3"))
    finally:
        await engine.dispose()
    assert begun == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE", "BEGIN"]


async def test_writes_after_another_server_answered_wait_their_turn(in_tmp: Path) -> None:
    """A unit of work that read, called another server, then writes (portal.deps.calls_out):
    written in the transaction that read, its writes are refused when another writer committed
    meanwhile; after :func:`write_next`, they begin a transaction of their own that waits."""
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp / 'race.db'}")
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        async def meanwhile() -> None:  # the poller, while the other server answers
            async with session_scope(sessions, writing=True) as other:
                await other.execute(text("INSERT INTO t VALUES (1)"))

        async with session_scope(sessions) as session:
            await session.execute(text("SELECT count(*) FROM t"))
            await meanwhile()
            with pytest.raises(OperationalError, match="locked"):
                await session.execute(text("INSERT INTO t VALUES (2)"))

        async with session_scope(sessions) as session:
            await session.execute(text("SELECT count(*) FROM t"))
            await meanwhile()
            await write_next(session)
            await session.execute(text("INSERT INTO t VALUES (3)"))
        async with session_scope(sessions) as session:
            assert (await session.scalar(text("SELECT count(*) FROM t"))) == 3
    finally:
        await engine.dispose()


async def test_writers_at_once_take_turns_without_sleeping_in_sqlite(in_tmp: Path) -> None:
    """Ten transactions that write, begun at once (a post going to ten networks): each waits
    for the one before in the process, not in SQLite's busy handler, which sleeps between
    tries. With SQLite told not to wait at all, none is refused."""
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp / 'turns.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _no_waiting(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor().execute("PRAGMA busy_timeout=0")

    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))

        async def write(n: int) -> None:
            async with session_scope(sessions, writing=True) as session:
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.01)  # still in the transaction: the others wait

        async with asyncio.timeout(10):
            await asyncio.gather(*(write(n) for n in range(10)))
        async with session_scope(sessions) as session:
            written = list(await session.scalars(text("SELECT n FROM t ORDER BY n")))
    finally:
        await engine.dispose()
    assert written == list(range(10))


async def test_a_writer_inside_another_is_refused_as_sqlite_refuses_it(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that writes, opened while the same task holds another, would wait for
    itself: after the busy timeout it is refused, as SQLite alone refused it."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.2)
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp / 'nested.db'}")
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        async with asyncio.timeout(5), session_scope(sessions, writing=True) as outer:
            await outer.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="locked"):
                async with session_scope(sessions, writing=True) as inner:
                    await inner.execute(text("INSERT INTO t VALUES (2)"))
        async with session_scope(sessions, writing=True) as session:  # the turn was given back
            await session.execute(text("INSERT INTO t VALUES (3)"))
            assert list(await session.scalars(text("SELECT n FROM t ORDER BY n"))) == [1, 3]
    finally:
        await engine.dispose()


async def test_writes_asked_for_at_once_are_committed_together(in_tmp: Path) -> None:
    """Ten writes asked for at once go in two transactions (the first, and all that came
    while it waited); one that fails among them fails alone, the others are kept."""
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp}/together.db")
    begun = _begins(engine)

    factory = make_sessionmaker(engine)
    together = db.WritesTogether(factory)

    def note(value: int) -> Any:
        async def write(session: Any) -> int:
            await session.execute(text("INSERT INTO notes (value) VALUES (:v)"), {"v": value})
            if value == 7:
                raise ValueError("seven is refused")
            return value * 10

        return write

    try:
        async with session_scope(factory, writing=True) as session:
            await session.execute(text("CREATE TABLE notes (value INTEGER)"))
        begun.clear()
        results = await asyncio.gather(
            *(together.write(note(n)) for n in range(10)), return_exceptions=True
        )
        async with session_scope(factory) as session:
            kept = sorted((await session.scalars(text("SELECT value FROM notes"))).all())
    finally:
        await engine.dispose()
    assert [r for r in results if not isinstance(r, Exception)] == [
        0,
        10,
        20,
        30,
        40,
        50,
        60,
        80,
        90,
    ]
    assert isinstance(results[7], ValueError) and str(results[7]) == "seven is refused"
    assert kept == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    # The first alone, the nine that came meanwhile together (rolled back for the seven),
    # then each of those nine alone; and one to read.
    assert len(begun) == 1 + 1 + 9 + 1


async def test_writes_of_one_kind_asked_for_at_once_are_written_in_one_call(in_tmp: Path) -> None:
    """Items of one many-write that come together are handed to it in one call, in the order
    they came, beside the single writes of the same transaction; a failure of that call fails
    the transaction, and each item is written again alone."""
    engine = make_engine(f"sqlite+aiosqlite:///{in_tmp}/many.db")
    factory = make_sessionmaker(engine)
    together = db.WritesTogether(factory)
    calls: list[list[int]] = []

    async def notes(session: Any, values: list[int]) -> list[int]:
        calls.append(values)
        if 7 in values and len(values) > 1:
            raise ValueError("seven spoils a batch")
        await session.execute(
            text("INSERT INTO notes (value) VALUES (:v)"), [{"v": v} for v in values]
        )
        return [v * 10 for v in values]

    async def single(session: Any) -> str:
        await session.execute(text("INSERT INTO notes (value) VALUES (100)"))
        return "single"

    try:
        async with session_scope(factory, writing=True) as session:
            await session.execute(text("CREATE TABLE notes (value INTEGER)"))
        first = await asyncio.gather(
            *(together.write_many(notes, n) for n in range(5)), together.write(single)
        )
        calls.clear()
        second = await asyncio.gather(*(together.write_many(notes, n) for n in (6, 7, 8)))
        async with session_scope(factory) as session:
            kept = sorted((await session.scalars(text("SELECT value FROM notes"))).all())
    finally:
        await engine.dispose()
    assert first == [0, 10, 20, 30, 40, "single"]
    assert second == [60, 70, 80]
    # The three together, spoilt by the seven, then each alone.
    assert calls == [[6, 7, 8], [6], [7], [8]]
    assert kept == [0, 1, 2, 3, 4, 6, 7, 8, 100]
