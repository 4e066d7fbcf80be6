"""The durable queue of background work, and the worker that runs it.

A job is a row (:class:`~portal.storage.posts.Job`): a kind, the subject it works on, when it
is due. Whoever wants work done writes its job in the same transaction as the rest of the
request, so the work exists exactly when the request succeeded. Workers claim due jobs by
writing a lease into them:

- On PostgreSQL the claim reads with ``SELECT … FOR UPDATE SKIP LOCKED``: workers on several
  machines each take other jobs, none waits on a row another holds.
  (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE)
- On SQLite the claim is a write transaction from its first statement (``BEGIN IMMEDIATE``):
  claims take turns, which is all one file needs.
- A worker renews the lease of each job it runs (:data:`LEASE`, every third of it). One that
  dies leaves its leases to run out, and the jobs are claimed again; the handlers make a
  second run harmless (``portal.domain.posts.deliver``). Only the holder of a lease may end
  the job or put it off (the lease carries the worker's name): one that lost its lease, late
  after a pause, changes nothing.
- A handler ends a job by returning (``None``: done, the row goes) or puts it off by returning
  the seconds until it runs again. An exception puts it off by :func:`backoff`. A handler that
  writes its outcome anyway ends the job in that same transaction (:func:`finish`, fenced like
  the worker's own) and returns :data:`ENDED`: one write instead of two, which on SQLite wait
  their turn with every other writer. Work that follows on the same subject may take over the
  ended job's row instead (:func:`finish_then`): the row becomes that job, a new one; the
  fence names the kind too, so the holder of the old job holds nothing of the new.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from portal.db import session_scope, upsert
from portal.storage.models import utcnow
from portal.storage.posts import Job

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a claim holds without renewal: a dead worker's jobs wait this long at most."""
IDLE = 1.0
"""The longest a worker rests when nothing is due (one indexed read per rest)."""
RETRY_BASE = 15.0
RETRY_CAP = 3600.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a worker holds: what to do, and how many times it was claimed (this one too)."""

    id: int
    kind: str
    subject: str
    attempts: int
    worker: str


class Ended(enum.Enum):
    ENDED = "ended"


ENDED: Final = Ended.ENDED
"""What a handler returns when it ended the job itself, by :func:`finish` in the transaction
that wrote its outcome: the worker has nothing left to write."""

Handler = Callable[[Claimed], Awaitable[float | Ended | None]]
"""Runs a job: ``None`` when it is done, :data:`ENDED` when it ended it itself, else the
seconds until it runs again."""


Schedule = tuple[tuple[timedelta, timedelta], ...]
"""How often work on something is done as it ages: ``(while younger than, every)`` steps, in
order; never once it is older than the last."""


def next_time(schedule: Schedule, since: datetime, now: datetime) -> datetime | None:
    """When work on something that began at ``since`` is next done after ``now``; ``None``:
    no more (it is older than the schedule)."""
    age = now - since
    for younger_than, every in schedule:
        if age < younger_than:
            return now + every
    return None


def until_next(schedule: Schedule, since: datetime) -> float | None:
    """Seconds from now to the next time on ``schedule`` (at least one), what a handler that
    did its work returns; ``None`` when there is none (it ends the job)."""
    now = utcnow()
    when = next_time(schedule, since, now)
    return None if when is None else max((when - now).total_seconds(), 1.0)


def after_failure(schedule: Schedule, since: datetime, *, at_least: float) -> float:
    """Seconds from now to try work on ``schedule`` again after a try that failed: its next
    time, or its last step's once past it, and never sooner than ``at_least``."""
    now = utcnow()
    when = next_time(schedule, since, now) or now + schedule[-1][1]
    return max((when - now).total_seconds(), at_least)


def backoff(attempts: int, *, base: float = RETRY_BASE, cap: float = RETRY_CAP) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``base``, at most ``cap``, with
    "equal jitter" (half fixed, half random) so that jobs failed together do not come back
    together (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)."""
    ceiling = min(cap, base * 2.0 ** max(attempts - 1, 0))
    jitter: float = random.uniform(0, ceiling / 2)  # noqa: S311 (spreading, not secrecy)
    return ceiling / 2 + jitter


# -- writing jobs (in the caller's transaction) --------------------------------------------------


async def enqueue(
    session: AsyncSession, kind: str, subject: str, *, run_at: datetime | None = None
) -> None:
    """Have ``kind`` work done on ``subject`` at ``run_at`` (now by default). A job of that
    kind for that subject is kept and moved to the new time, not doubled (one statement,
    ``ON CONFLICT DO UPDATE``, which another transaction adding it at once cannot fail)."""
    insert = upsert(session)(Job).values(kind=kind, subject=subject, run_at=run_at or utcnow())
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["kind", "subject"], set_={"run_at": insert.excluded.run_at}
        )
    )


async def ensure(
    session: AsyncSession, kind: str, subject: str, *, run_at: datetime | None = None
) -> None:
    """Have the job of ``kind`` for ``subject`` due by ``run_at`` (now by default): added if
    there is none, brought forward if it is due later and nobody holds it, never put off
    (:func:`enqueue` moves it to ``run_at`` whatever). For a job that many ask for (one for
    the whole portal), each wanting it no later than some time."""
    when = run_at or utcnow()
    insert = upsert(session)(Job).values(kind=kind, subject=subject, run_at=when)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["kind", "subject"]))
    await session.execute(
        update(Job)
        .where(
            Job.kind == kind, Job.subject == subject, Job.run_at > when, Job.leased_until.is_(None)
        )
        .values(run_at=when)
    )


async def drop(session: AsyncSession, kind: str, subject: str) -> None:
    """Forget a job; a worker running it finishes without effect on the queue."""
    await session.execute(delete(Job).where(Job.kind == kind, Job.subject == subject))


async def due_at(session: AsyncSession, kind: str, subject: str) -> datetime | None:
    """When the job runs next; ``None`` when there is none."""
    return await session.scalar(select(Job.run_at).where(Job.kind == kind, Job.subject == subject))


async def free_at(session: AsyncSession, kind: str, subject: str) -> datetime | None:
    """When a worker may claim the job next: when its lease runs out, while one holds it (or
    held it and stopped), else when it is due; ``None`` when there is none."""
    row = (
        await session.execute(
            select(Job.run_at, Job.leased_until).where(Job.kind == kind, Job.subject == subject)
        )
    ).first()
    if row is None:
        return None
    run_at, leased_until = row
    return run_at if leased_until is None else max(run_at, leased_until)


# -- claiming and ending (each in a short transaction of its own) --------------------------------


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    worker: str,
    kinds: Sequence[str],
    *,
    limit: int,
    lease: timedelta = LEASE,
) -> list[Claimed]:
    """Take up to ``limit`` due jobs of ``kinds`` that nobody holds, for ``lease``.

    Whether any is due is read first, in a transaction that only reads: an idle worker looks
    every second, and on SQLite a transaction that writes takes the database's one write
    lock, which the requests that write would wait for."""
    async with session_scope(sessions) as session:
        if await session.scalar(select(Job.id).where(*_due(kinds, utcnow())).limit(1)) is None:
            return []
    async with session_scope(sessions, writing=True) as session:
        now = utcnow()
        ids = list(
            await session.scalars(
                select(Job.id)
                .where(*_due(kinds, now))
                .order_by(Job.run_at, Job.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        await session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(leased_until=now + lease, worker=worker, attempts=Job.attempts + 1)
        )
        rows = await session.execute(
            select(Job.id, Job.kind, Job.subject, Job.attempts).where(Job.id.in_(ids))
        )
        return sorted(
            (
                Claimed(id_, kind, subject, attempts, worker)
                for id_, kind, subject, attempts in rows
            ),
            key=lambda job: ids.index(job.id),
        )


def _due(kinds: Sequence[str], now: datetime) -> list[ColumnElement[bool]]:
    return [
        Job.kind.in_(kinds),
        Job.run_at <= now,
        or_(Job.leased_until.is_(None), Job.leased_until < now),
    ]


async def renew(
    sessions: async_sessionmaker[AsyncSession], jobs: Sequence[Claimed], lease: timedelta = LEASE
) -> set[int]:
    """Extend the leases still held; the ids of those that were (a lost one is missing)."""
    if not jobs:
        return set()
    async with session_scope(sessions, writing=True) as session:
        until = utcnow() + lease
        held = set()
        for job in jobs:
            done = await session.execute(
                update(Job)
                .where(*_held(job))  # type: ignore[arg-type]
                .values(leased_until=until)
            )
            if done.rowcount:  # type: ignore[attr-defined]
                held.add(job.id)
        return held


def _held(job: Claimed) -> list[object]:
    """The job as this worker holds it: its id, holder and try, and its kind (a job's row
    may become the next job of its subject, :func:`finish_then`, claimed by the same worker
    on its first try too)."""
    return [
        Job.id == job.id,
        Job.kind == job.kind,
        Job.worker == job.worker,
        Job.attempts == job.attempts,
    ]


async def finish(session: AsyncSession, job: Claimed) -> bool:
    """The job is done: it goes, if this worker still holds it (``False`` when it did not:
    its lease ran out and another worker took the job, or the job was dropped)."""
    done = await session.execute(delete(Job).where(*_held(job)))  # type: ignore[arg-type]
    return bool(done.rowcount)  # type: ignore[attr-defined]


_JOBS = cast(Table, Job.__table__)
"""The table itself, for statements run once for each of several jobs (``executemany``)."""


async def finish_all(session: AsyncSession, ended: Sequence[Claimed]) -> None:
    """:func:`finish` for several jobs, in one statement."""
    if ended:
        await session.execute(delete(_JOBS).where(*_held_each()), [_holder(job) for job in ended])


async def finish_then(
    session: AsyncSession, ended: Sequence[Claimed], kind: str, *, run_at: datetime
) -> None:
    """End the jobs this worker still holds, and have ``kind`` work done on the subject of
    each at ``run_at``: what :func:`finish` and :func:`enqueue` do, but each job's row becomes
    the next job, where no job of that kind is there for its subject yet. Two statements for
    all of them, where nothing stands in the way."""
    if not ended:
        return
    other = aliased(Job)
    await session.execute(
        update(_JOBS)
        .where(
            *_held_each(),
            ~exists().where(other.kind == kind, other.subject == bindparam("b_subject")),
        )
        .values(kind=kind, run_at=run_at, worker="", leased_until=None, attempts=0),
        [_holder(job) | {"b_subject": job.subject} for job in ended],
    )
    handed = set(
        await session.scalars(
            select(Job.id).where(Job.id.in_([job.id for job in ended]), Job.kind == kind)
        )
    )
    for job in ended:
        if job.id not in handed:  # one is there already, or the job is no longer ours
            await enqueue(session, kind, job.subject, run_at=run_at)
            await finish(session, job)


def _held_each() -> list[ColumnElement[bool]]:
    """:func:`_held` of each job of an ``executemany`` (:func:`_holder` gives its values)."""
    return [
        _JOBS.c.id == bindparam("b_id"),
        _JOBS.c.kind == bindparam("b_kind"),
        _JOBS.c.worker == bindparam("b_worker"),
        _JOBS.c.attempts == bindparam("b_attempts"),
    ]


def _holder(job: Claimed) -> dict[str, object]:
    return {"b_id": job.id, "b_kind": job.kind, "b_worker": job.worker, "b_attempts": job.attempts}


async def put_off(session: AsyncSession, job: Claimed, seconds: float) -> None:
    """Run the job again in ``seconds``, if this worker still holds it."""
    await session.execute(
        update(Job)
        .where(*_held(job))  # type: ignore[arg-type]
        .values(run_at=utcnow() + timedelta(seconds=max(seconds, 0.0)), leased_until=None)
    )


async def seconds_until_due(session: AsyncSession, kinds: Sequence[str]) -> float | None:
    """How long until the next job of ``kinds`` is due (0 when one is); ``None``: none."""
    now = utcnow()
    soonest = await session.scalar(
        select(func.min(func.coalesce(Job.leased_until, Job.run_at))).where(Job.kind.in_(kinds))
    )
    if soonest is None:
        return None
    return max((soonest - now).total_seconds(), 0.0)


# -- the worker -----------------------------------------------------------------------------------


def worker_name() -> str:
    """Who holds a lease: the machine, the process, and a random part for each worker."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class Worker:
    """Claims due jobs of the kinds it has handlers for and runs up to ``concurrency`` of them
    at once, each in a task of its own, renewing their leases while they run."""

    sessions: async_sessionmaker[AsyncSession]
    handlers: Mapping[str, Handler]
    concurrency: int = 4
    lease: timedelta = LEASE
    idle: float = IDLE
    name: str = field(default_factory=worker_name)
    running: dict[tuple[int, str], Claimed] = field(default_factory=dict)
    """The jobs it runs now, by id: what ``portal worker`` shows."""
    on_change: Callable[[str, Claimed, str], None] | None = None
    """Told of each job that starts (``"start"``) or ends (``"done"``, ``"later"``)."""
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Look for due jobs now (a job was just written in this process)."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Claim and run jobs until cancelled; the jobs running then are cancelled too, and
        their leases run out for another worker to take them up."""
        tasks: set[asyncio.Task[None]] = set()
        renewing = asyncio.create_task(self._renew_forever(), name="job leases")
        try:
            while True:
                free = self.concurrency - len(tasks)
                claimed: list[Claimed] = []
                if free > 0:
                    try:
                        claimed = await claim(
                            self.sessions, self.name, list(self.handlers), limit=free,
                            lease=self.lease,
                        )  # fmt: skip
                    except Exception:  # the database away for a moment
                        log.exception("claiming jobs failed")
                for job in claimed:
                    task = asyncio.create_task(self._run(job), name=f"job {job.id}")
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if claimed and len(tasks) < self.concurrency:
                    continue
                await self._rest(tasks)
        finally:
            renewing.cancel()
            for task in (*tasks, renewing):
                task.cancel()
            await asyncio.gather(*tasks, renewing, return_exceptions=True)

    async def run_due(self) -> int:
        """Run every job due now, then return how many ran: for ``portal`` commands and tests."""
        ran = 0
        while claimed := await claim(
            self.sessions, self.name, list(self.handlers), limit=self.concurrency, lease=self.lease
        ):
            await asyncio.gather(*(self._run(job) for job in claimed))
            ran += len(claimed)
        return ran

    async def _rest(self, tasks: set[asyncio.Task[None]]) -> None:
        """Until a job ends, one is written here, or :attr:`idle` passes: then claim again."""
        waiting = asyncio.create_task(self._wake.wait())
        try:
            wait_for: set[asyncio.Future[object]] = {waiting, *tasks}  # type: ignore[arg-type]
            if len(tasks) < self.concurrency:
                await asyncio.wait(wait_for, timeout=self.idle, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.wait(wait_for - {waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            self._wake.clear()

    async def _run(self, job: Claimed) -> None:
        handler = self.handlers[job.kind]
        self.running[job.id, job.kind] = job
        self._tell("start", job)
        try:
            try:
                later = await handler(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s (%s %s) failed", job.id, job.kind, job.subject)
                later = backoff(job.attempts)
            if later is ENDED:
                self._tell("done", job)
                return
            async with session_scope(self.sessions, writing=True) as session:
                if later is None:
                    await finish(session, job)
                else:
                    await put_off(session, job, later)
            self._tell("done" if later is None else "later", job)
        except asyncio.CancelledError:
            raise
        except Exception:  # ending it failed: its lease runs out and it runs again
            log.exception("job %s could not be ended", job.id)
        finally:
            self.running.pop((job.id, job.kind), None)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                # Those running when the renewal began: one claimed meanwhile is not lost.
                running = list(self.running.values())
                held = await renew(self.sessions, running, self.lease)
                for lost in {job.id for job in running} - held:
                    log.warning("the lease of job %s was lost", lost)

    def _tell(self, what: str, job: Claimed) -> None:
        if self.on_change is not None:
            self.on_change(what, job, self.name)
