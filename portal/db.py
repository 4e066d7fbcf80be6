"""The async engine and sessions. Domain code flushes; the request's session commits.

The SQLite database holds everything the portal knows of people, so its directory is readable
by the portal's user only (0700) and so is the file (0600; SQLite gives its -wal and -shm files
the mode of the database), and deleted rows are overwritten (``secure_delete``) instead of
lingering in free pages of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

WRITING = "portal_writing"
"""Execution option of a session that will write (:func:`session_scope`): on SQLite its
transaction takes the write lock when it begins (``BEGIN IMMEDIATE``). A transaction that read
first and writes later is refused its writes ("database is locked", at once, whatever the busy
timeout) when another one committed in between; one that begins writing waits its turn
instead. https://sqlite.org/lang_transaction.html#deferred_immediate_and_exclusive_transactions
"""

BUSY_TIMEOUT = 5.0
"""Seconds a transaction waits to write before SQLite refuses it ("database is locked")."""

_TURN = "portal_writers_turn"
"""Key, in a connection's ``info``, of the writers' turn it holds (:func:`_sqlite_setup`)."""

VAR_DIR = Path("var")
"""The portal's own directory for what it writes: the SQLite database, the generated key."""


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can enter: created 0700 when missing, and made
    0700 when it is the portal's own :data:`VAR_DIR` (an older one may be 0755)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.resolve() == VAR_DIR.resolve():
        with contextlib.suppress(PermissionError):
            path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read, created 0600 when missing."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(PermissionError):
        path.chmod(0o600)  # a file made before, with the mode of the umask
    return path


def _sqlite_setup(engine: AsyncEngine) -> None:
    """Make SQLite behave: foreign keys on, WAL, real SAVEPOINTs, deleted rows overwritten,
    and the transactions of this process that write take turns without sleeping.

    pysqlite begins transactions lazily and breaks SAVEPOINT; the documented remedy is to
    switch its own handling off and emit BEGIN ourselves.
    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl

    SQLite lets one transaction write at a time. One that waits for the lock sleeps in its busy
    handler, longer at each try (1, 2, 5, 10 … 100 ms: https://sqlite.org/c3ref/busy_timeout.html)
    and wakes up late after the lock was freed: ten deliveries of one post, each marking itself
    at once, took up to 180 ms to get the lock, mostly while it was free. So a transaction
    that writes (:data:`WRITING`) first waits for this process's others in a queue (one per
    database and event loop), begins, and hands its turn on the moment it committed (it emits
    COMMIT itself, so that the next one does not find the lock still held). A transaction that
    waited longer than :data:`BUSY_TIMEOUT` for its turn (one written inside another, which
    would wait for itself) is left to SQLite's lock, as are the writers of other processes.
    """
    turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
        weakref.WeakKeyDictionary()
    )

    def take_turn(conn: Connection) -> None:
        turn = turns.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            await_only(asyncio.wait_for(turn.acquire(), BUSY_TIMEOUT))
        except TimeoutError:
            return
        conn.info[_TURN] = turn

    def give_turn(info: dict[Any, Any]) -> None:
        turn = info.pop(_TURN, None)
        if turn is not None:
            turn.release()

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted content is zeroed, not left in free pages:
        # https://sqlite.org/pragma.html#pragma_secure_delete
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get(WRITING):
            conn.exec_driver_sql("BEGIN")
            return
        take_turn(conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            give_turn(conn.info)
            raise

    @event.listens_for(engine.sync_engine, "commit")
    def _on_commit(conn: Connection) -> None:
        if not conn.invalidated and _TURN in conn.info:
            try:
                conn.exec_driver_sql("COMMIT")  # pysqlite's own commit then has nothing to do
            finally:
                give_turn(conn.info)

    @event.listens_for(engine.sync_engine, "rollback")
    def _on_rollback(conn: Connection) -> None:
        if not conn.invalidated:
            give_turn(conn.info)

    # The turn of a connection that ends otherwise: dropped (a task cancelled in the middle of
    # a statement), or given back with its transaction open.
    @event.listens_for(engine.sync_engine.pool, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: ConnectionPoolEntry, _error: Any) -> None:
        give_turn(record.info)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        give_turn(record.info)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        if _ensure_sqlite_dir(url) and "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
        engine = create_async_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


SQLITE_POOL_SIZE = 20
"""Connections kept open to an SQLite file (SQLAlchemy keeps 5). A transaction that waits for
its turn to write holds one, so a worker that starts ten deliveries at once opened five more
and closed them again at every post (a thread and the file each: about 1.5 ms of CPU)."""


def _ensure_sqlite_dir(url: str) -> bool:
    """Make the directory of an SQLite file private; whether the database is a file."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        private_directory(path.parent)
        private_file(path)
        return True
    return False


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def write_next(session: AsyncSession) -> None:
    """End ``session``'s transaction, and have the next one begin as one that writes (see
    :data:`WRITING`): for a unit of work that read, then called another server, and writes
    now. Had it written in the transaction that read, its writes would be refused whenever
    another writer (the feed poller, often) committed while the other server answered."""
    if session.in_transaction():
        await session.commit()
    bind = session.bind
    if isinstance(bind, AsyncEngine) and not bind.get_execution_options().get(WRITING):
        session.bind = bind.execution_options(**{WRITING: True})


@asynccontextmanager
async def session_scope(
    factory: async_sessionmaker[AsyncSession], *, writing: bool = False
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends, roll back if it raised.

    With ``writing``, each transaction begins as one that writes (see :data:`WRITING`), the
    one after a commit too: for work that reads, then writes, and calls no other server
    meanwhile (it would hold every other writer back while it waits).
    """
    bind = factory.kw.get("bind")
    if writing and isinstance(bind, AsyncEngine):  # not one connection shared, as in tests
        bind = bind.execution_options(**{WRITING: True})
    session = factory(bind=bind)
    try:
        yield session
    except BaseException:
        # Detach first: a rollback would expire every loaded object, and the error page
        # that follows still reads the signed-in user (its number, in the header).
        session.expunge_all()
        await session.rollback()
        raise
    else:
        if session.in_transaction():  # a request that read nothing has nothing to end
            await session.commit()
    finally:
        # One that read nothing holds nothing to close either, and closing costs a trip
        # through SQLAlchemy's greenlet (a lookup answered from kept cards reads nothing).
        if session.in_transaction() or len(session.identity_map):
            await session.close()


def upsert(session: AsyncSession) -> Any:
    """The ``insert`` of the session's database with ``ON CONFLICT`` (PostgreSQL's or
    SQLite's): a row written unless one with its key is there, without the error and the
    spoilt transaction of a unique constraint broken by another transaction's insert."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
Write = Callable[[AsyncSession], Awaitable[Any]]
Many = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]
"""A write of several items at once: one result for each, in their order."""


@dataclass(frozen=True, slots=True)
class _Waiting:
    write: Write | Many
    done: asyncio.Future[Any]
    item: Any = None
    many: bool = False


@dataclass
class WritesTogether:
    """Short writes of tasks running at once, committed together: those that come while a
    transaction of them waits for its turn or runs go in the next one (a group commit).

    On SQLite every write transaction waits for the one before (:data:`WRITING`), so ten
    deliveries that each end in one of their own end ten transactions apart; together they
    wait for one or two. Each write gets the shared session and must only use it: no other
    transaction (it would wait for this one), no other server. Should one of several fail,
    the transaction is rolled back and each is written again alone, so that one write's
    failure is its own. A write goes on to its commit even if the task that asked for it is
    cancelled meanwhile: it runs in a task of its own, like a commit already sent.

    Writes of one kind may also be written together within the transaction
    (:meth:`write_many`): one call for all the items of a kind that came together, so that
    ten items cost a few statements rather than a few each."""

    sessions: async_sessionmaker[AsyncSession]
    _waiting: list[_Waiting] = field(default_factory=list)
    _writing: asyncio.Task[None] | None = None

    async def write(self, write: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """What ``write`` returns, once the transaction it went into is committed."""
        return await self._wait(write, None, many=False)  # type: ignore[no-any-return]

    async def write_many(
        self, write: Callable[[AsyncSession, list[I]], Awaitable[list[T]]], item: I
    ) -> T:
        """``write``'s result for ``item``, once the transaction it went into is committed.
        ``write`` is called once for every item of the transaction it was asked for with (the
        same function, in the order they came), and returns a result for each, in order."""
        return await self._wait(write, item, many=True)  # type: ignore[no-any-return]

    async def _wait(self, write: Write | Many, item: object, *, many: bool) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(write, done, item, many))
        writing = self._writing
        if writing is None or writing.done() or writing.get_loop() is not done.get_loop():
            self._writing = asyncio.create_task(self._write_all(), name="writes together")
        return await done

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            if not await self._commit(batch) and len(batch) > 1:
                for one in batch:
                    await self._commit([one])

    async def _commit(self, batch: list[_Waiting]) -> bool:
        """Write ``batch`` in one transaction; whether it was committed (if not, and it was
        one write, its caller has the error)."""
        results: dict[int, object] = {}
        try:
            async with session_scope(self.sessions, writing=True) as session:
                for index, waiting in enumerate(batch):
                    if index in results:
                        continue
                    if not waiting.many:
                        results[index] = await waiting.write(session)  # type: ignore[call-arg]
                        continue
                    kind = [i for i, w in enumerate(batch) if w.many and w.write == waiting.write]
                    written = await waiting.write(session, [batch[i].item for i in kind])  # type: ignore[call-arg]
                    results.update(zip(kind, written, strict=True))
        except Exception as error:
            if len(batch) == 1 and not batch[0].done.done():
                batch[0].done.set_exception(error)
            return False
        for index, waiting in enumerate(batch):
            if not waiting.done.done():
                waiting.done.set_result(results[index])
        return True
