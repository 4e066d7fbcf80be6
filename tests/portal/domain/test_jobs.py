"""The durable queue: jobs are claimed once, leased, ended only by their holder, and shared
by several workers without any job taken twice."""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import jobs
from portal.storage import migrate
from portal.storage.models import utcnow
from portal.storage.posts import Job
from tests.fixtures.database import Databases, postgres_url

Sessions = async_sessionmaker[AsyncSession]


async def _jobs(sessions: Sessions) -> list[Job]:
    async with sessions() as session:
        return list(await session.scalars(select(Job).order_by(Job.id)))


async def _add(sessions: Sessions, *subjects: str, kind: str = "test", **when: object) -> None:
    async with session_scope(sessions, writing=True) as session:
        for subject in subjects:
            await jobs.enqueue(session, kind, subject, **when)  # type: ignore[arg-type]


async def test_a_job_written_twice_is_one_job_at_the_later_time(sessionmaker: Sessions) -> None:
    later = utcnow() + timedelta(hours=1)
    await _add(sessionmaker, "7")
    await _add(sessionmaker, "7", run_at=later)
    (job,) = await _jobs(sessionmaker)
    assert (job.subject, job.run_at) == ("7", later)


async def test_only_due_jobs_of_the_asked_kinds_are_claimed(sessionmaker: Sessions) -> None:
    await _add(sessionmaker, "now")
    await _add(sessionmaker, "later", run_at=utcnow() + timedelta(minutes=5))
    await _add(sessionmaker, "other", kind="elsewhere")
    claimed = await jobs.claim(sessionmaker, "w1", ["test"], limit=10)
    assert [(job.subject, job.attempts) for job in claimed] == [("now", 1)]


async def test_a_leased_job_is_claimed_again_only_when_its_lease_ran_out(
    sessionmaker: Sessions,
) -> None:
    await _add(sessionmaker, "a")
    (first,) = await jobs.claim(sessionmaker, "w1", ["test"], limit=1)
    assert await jobs.claim(sessionmaker, "w2", ["test"], limit=1) == []
    async with session_scope(sessionmaker) as session:  # w1 died: its lease runs out
        await session.execute(update(Job).values(leased_until=utcnow() - timedelta(seconds=1)))
    (second,) = await jobs.claim(sessionmaker, "w2", ["test"], limit=1)
    assert (second.id, second.worker, second.attempts) == (first.id, "w2", 2)

    # The first worker comes back late: it can neither end nor put off the job it lost.
    async with session_scope(sessionmaker) as session:
        await jobs.finish(session, first)
        await jobs.put_off(session, first, 3600)
    assert await jobs.renew(sessionmaker, [first, second]) == {second.id}
    (job,) = await _jobs(sessionmaker)
    assert job.worker == "w2" and job.leased_until is not None and job.leased_until > utcnow()
    async with session_scope(sessionmaker) as session:
        await jobs.finish(session, second)
    assert await _jobs(sessionmaker) == []


async def test_a_job_put_off_waits_and_keeps_its_count(sessionmaker: Sessions) -> None:
    await _add(sessionmaker, "a")
    (job,) = await jobs.claim(sessionmaker, "w1", ["test"], limit=1)
    async with session_scope(sessionmaker) as session:
        await jobs.put_off(session, job, 120)
    (kept,) = await _jobs(sessionmaker)
    assert kept.leased_until is None and kept.attempts == 1
    assert timedelta(seconds=110) < kept.run_at - utcnow() <= timedelta(seconds=120)
    assert await jobs.claim(sessionmaker, "w1", ["test"], limit=1) == []
    async with sessionmaker() as session:
        wait = await jobs.seconds_until_due(session, ["test"])
    assert wait is not None and 110 < wait <= 120


async def test_the_worker_ends_done_jobs_and_puts_off_failed_ones(sessionmaker: Sessions) -> None:
    await _add(sessionmaker, "ok", "later", "broken")
    seen = []

    async def handler(job: jobs.Claimed) -> float | None:
        seen.append(job.subject)
        if job.subject == "broken":
            raise RuntimeError("the network went away")
        return 60.0 if job.subject == "later" else None

    # One at a time: the test's sessions share one connection.
    worker = jobs.Worker(sessionmaker, {"test": handler}, concurrency=1)
    assert await worker.run_due() == 3
    assert sorted(seen) == ["broken", "later", "ok"]
    left = {job.subject: job for job in await _jobs(sessionmaker)}
    assert set(left) == {"later", "broken"}
    assert all(job.leased_until is None and job.run_at > utcnow() for job in left.values())
    assert await worker.run_due() == 0  # nothing is due any more


async def test_a_handler_may_end_its_job_with_the_transaction_of_its_outcome(
    sessionmaker: Sessions,
) -> None:
    """One write instead of two: the handler ends the job in the transaction that records what
    it did, and the worker writes nothing after it. If its lease was lost meanwhile (another
    worker holds the job), its ending ends nothing."""
    await _add(sessionmaker, "mine", "lost", "kept")
    ended: dict[str, bool] = {}

    async def handler(job: jobs.Claimed) -> jobs.Ended:
        if job.subject == "lost":  # it paused, its lease ran out, and w2 took the job
            async with session_scope(sessionmaker) as session:
                await session.execute(
                    update(Job).where(Job.id == job.id).values(worker="w2", attempts=2)
                )
        if job.subject != "kept":
            async with session_scope(sessionmaker) as session:
                ended[job.subject] = await jobs.finish(session, job)
        return jobs.ENDED

    worker = jobs.Worker(sessionmaker, {"test": handler}, concurrency=1)
    assert await worker.run_due() == 3
    assert await worker.run_due() == 0  # "kept" is still leased, "lost" is w2's
    assert ended == {"mine": True, "lost": False}
    left = {job.subject: job for job in await _jobs(sessionmaker)}
    assert set(left) == {"lost", "kept"}
    assert (left["lost"].worker, left["lost"].attempts) == ("w2", 2)
    # Nobody put "kept" off: it is still held by the worker that ran it.
    assert left["kept"].worker == worker.name
    assert left["kept"].leased_until is not None and left["kept"].leased_until > utcnow()


async def test_jobs_ended_together_become_the_next_jobs_of_their_subjects(
    sessionmaker: Sessions,
) -> None:
    """Jobs ended together with work to follow on their subjects: each row held by this
    worker becomes the next job; where one of that kind is there already, it is moved to the
    new time and the ended job goes; one whose lease was lost is not ended, and the next job
    is there all the same. Jobs ended with nothing to follow go, unless lost."""
    await _add(sessionmaker, "a", "b", "lost", "c", "d")
    await _add(sessionmaker, "b", kind="next", run_at=utcnow() + timedelta(days=1))
    claimed = {
        job.subject: job
        for job in await jobs.claim(
            sessionmaker, "w1", ["test"], limit=10, lease=timedelta(minutes=1)
        )
    }
    async with session_scope(sessionmaker, writing=True) as session:
        await session.execute(update(Job).where(Job.id == claimed["lost"].id).values(worker="w2"))
    later = utcnow() + timedelta(minutes=1)
    async with session_scope(sessionmaker, writing=True) as session:
        await jobs.finish_then(
            session, [claimed[s] for s in ("a", "b", "lost")], "next", run_at=later
        )
        await jobs.finish_all(session, [claimed["c"]])
    left = {(job.kind, job.subject): job for job in await _jobs(sessionmaker)}
    assert set(left) == {
        ("next", "a"), ("next", "b"), ("next", "lost"), ("test", "lost"), ("test", "d"),
    }  # fmt: skip
    assert left["next", "a"].id == claimed["a"].id  # the same row, a job again
    assert all(left["next", s].worker == "" and left["next", s].attempts == 0 for s in "ab")
    assert all(left["next", s].run_at == later for s in ("a", "b", "lost"))
    assert left["test", "lost"].worker == "w2"
    assert left["test", "d"].worker == "w1"  # claimed, not ended


async def test_the_holder_of_a_job_holds_nothing_of_the_job_its_row_became(
    sessionmaker: Sessions,
) -> None:
    """A job's row made the next job of its subject, claimed by the same worker on its first
    try: a late end, put-off or renewal of the old job leaves the new one alone."""
    await _add(sessionmaker, "x")
    lease = timedelta(minutes=1)
    (old,) = await jobs.claim(sessionmaker, "w1", ["test"], limit=1, lease=lease)
    async with session_scope(sessionmaker, writing=True) as session:
        await jobs.finish_then(session, [old], "next", run_at=utcnow())
    (new,) = await jobs.claim(sessionmaker, "w1", ["next"], limit=1, lease=lease)
    assert (new.id, new.worker, new.attempts) == (old.id, old.worker, old.attempts)
    assert await jobs.renew(sessionmaker, [old], lease) == set()
    async with session_scope(sessionmaker, writing=True) as session:
        await jobs.put_off(session, old, 3600)
        assert not await jobs.finish(session, old)
        await jobs.finish_all(session, [old])
    (left,) = await _jobs(sessionmaker)
    assert (left.kind, left.worker) == ("next", "w1")
    assert left.leased_until is not None and left.run_at <= utcnow()


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    for attempts, ceiling in ((1, 15), (2, 30), (3, 60), (5, 240), (30, 3600)):
        waits = [jobs.backoff(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 100  # not all the same: jobs failed together spread out


# -- several workers, one database -------------------------------------------------------------


@pytest.fixture
async def own_database(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """A database of its own, committed to for real, for workers on separate connections."""
    engine = make_engine(await databases.new("jobs"))
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def test_workers_sharing_a_database_never_run_a_job_twice(
    own_database: AsyncEngine,
) -> None:
    """Four workers, each on a pool of its own (as on four machines), claim 300 jobs while
    they are being written: every job runs exactly once."""
    sessions = make_sessionmaker(own_database)
    runs: collections.Counter[str] = collections.Counter()
    by_worker: collections.Counter[str] = collections.Counter()
    rng = random.Random(7)

    all_ran = asyncio.Event()

    async def handler(job: jobs.Claimed) -> None:
        runs[job.subject] += 1
        by_worker[job.worker] += 1
        await asyncio.sleep(rng.random() / 200)
        if len(runs) == 300:
            all_ran.set()

    engines = [make_engine(str(own_database.url.render_as_string(hide_password=False)))]
    engines += [make_engine(engines[0].url.render_as_string(hide_password=False)) for _ in range(3)]
    workers = [
        jobs.Worker(make_sessionmaker(engine), {"test": handler}, concurrency=8, idle=0.02)
        for engine in engines
    ]
    running = [asyncio.create_task(worker.run_forever()) for worker in workers]
    try:
        for batch in range(30):
            await _add(sessions, *(f"{batch}-{n}" for n in range(10)))
        async with asyncio.timeout(60):
            await all_ran.wait()
        for _ in range(600):  # every job ended (its row gone), 30 s at most
            if not await _jobs(sessions):
                break
            await asyncio.sleep(0.05)
        # Give a worker that would take a job twice the time to do it.
        await asyncio.sleep(0.2)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for engine in engines:
            await engine.dispose()
    assert len(runs) == 300 and set(runs.values()) == {1}
    assert await _jobs(sessions) == []
    assert len(by_worker) > 1  # the work was shared


@pytest.mark.skipif(postgres_url() is None, reason="SKIP LOCKED is PostgreSQL's")
async def test_a_claim_skips_jobs_another_worker_is_claiming(own_database: AsyncEngine) -> None:
    """While one worker's claim holds rows locked (its transaction not yet committed),
    another's claim takes the others at once instead of waiting for them."""
    sessions = make_sessionmaker(own_database)
    await _add(sessions, *(str(n) for n in range(6)))
    async with own_database.connect() as held:
        await held.begin()
        locked = (
            await held.execute(
                text("SELECT id FROM jobs ORDER BY run_at, id LIMIT 3 FOR UPDATE SKIP LOCKED")
            )
        ).scalars()
        locked_ids = set(locked)
        async with asyncio.timeout(5):  # waiting on the locks would take forever
            claimed = await jobs.claim(sessions, "w2", ["test"], limit=6)
        await held.rollback()
    assert len(locked_ids) == 3
    assert {job.id for job in claimed}.isdisjoint(locked_ids)
    assert len(claimed) == 3


async def test_a_job_ensured_by_two_transactions_at_once_is_one_and_neither_fails(
    own_database: AsyncEngine,
) -> None:
    """Two transactions ask for the same shared job at the same moment (two copies sent by
    two workers): on PostgreSQL the second waits for the first's insert and finds it, instead
    of breaking the unique constraint and losing its whole transaction."""
    sessions = make_sessionmaker(own_database)
    soon, later = utcnow() + timedelta(minutes=1), utcnow() + timedelta(minutes=5)
    async with sessions() as first, sessions() as second:
        await jobs.ensure(first, "shared", "one", run_at=later)
        if postgres_url():  # the second insert waits on the first's row until it commits
            waiting = asyncio.create_task(jobs.ensure(second, "shared", "one", run_at=soon))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await first.commit()
            await waiting
        else:  # one writer at a time: the second comes after
            await first.commit()
            await jobs.ensure(second, "shared", "one", run_at=soon)
        await second.commit()
    (job,) = await _jobs(sessions)
    assert (job.kind, job.subject, job.run_at) == ("shared", "one", soon)
    # Asked for later again, it stays as soon as it was; asked for now, it is due now.
    async with session_scope(sessions, writing=True) as session:
        await jobs.ensure(session, "shared", "one", run_at=later)
    assert (await _jobs(sessions))[0].run_at == soon
    async with session_scope(sessions, writing=True) as session:
        await jobs.ensure(session, "shared", "one")
    assert len(await jobs.claim(sessions, "w", ["shared"], limit=1)) == 1
    # Held by a worker, it is not moved: the worker says when it runs next.
    due = (await _jobs(sessions))[0].run_at
    async with session_scope(sessions, writing=True) as session:
        await jobs.ensure(session, "shared", "one", run_at=utcnow() - timedelta(minutes=1))
    assert (await _jobs(sessions))[0].run_at == due
