"""Delivering a post to Mastodon (faked at the HTTP layer, tests/fixtures/publishing.py):
exactly once whatever stops the worker, and the job ended by whoever still holds it; taken
down when its post is deleted, even while it goes out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from connectors.mastodon import Mastodon
from portal.db import session_scope
from portal.deps import job_worker
from portal.domain import jobs
from portal.domain.images import Picture
from portal.domain.posts import compose, public_pictures
from portal.domain.posts.deliver import Delivering
from portal.storage.models import User, utcnow
from portal.storage.posts import Delivery, Job
from tests.fixtures.crash import own_database
from tests.fixtures.database import Databases
from tests.fixtures.publishing import Instance, mastodon_account
from tests.portal.domain import people

Sessions = async_sessionmaker[AsyncSession]
LONG = " ".join(f"word{n}" for n in range(150))
"""About 1,000 characters: a thread of parts on an instance that takes 500."""


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> tuple[User, int]:
    user = await people.person(db, "Ada")
    linked = await mastodon_account(db, app, user)
    await db.commit()
    return user, linked.id


@pytest.fixture
def delivering(app: FastAPI, sessionmaker: Sessions) -> Delivering:
    return Delivering(sessionmaker, app.state.links)


async def _post(sessions: Sessions, ada: tuple[User, int], text: str) -> int:
    user, account_id = ada
    async with session_scope(sessions) as session:
        saved = await compose.save(
            session,
            user,
            compose.Composed(text, [compose.Target(account_id)]),
            base_url="https://portal.test",
        )
    (delivery,) = saved.deliveries
    return delivery.id


async def _delivery(sessions: Sessions, delivery_id: int) -> Delivery:
    async with sessions() as session:
        found = await session.get(Delivery, delivery_id)
    assert found is not None
    return found


async def _jobs(sessions: Sessions) -> list[Job]:
    """The delivery jobs left (a sent copy queues others, to read its answers)."""
    async with sessions() as session:
        return list(await session.scalars(select(Job).where(Job.kind == compose.DELIVER)))


def _publishing(
    monkeypatch: pytest.MonkeyPatch, after: Callable[[str], Awaitable[None]] | None = None
) -> list[str]:
    """The keys Mastodon is asked to publish with, in order; ``after`` runs once each part
    is out, with its key."""
    keys: list[str] = []
    publish = Mastodon.publish

    async def counted(self: Mastodon, draft: base.Draft, key: str) -> base.Published:
        keys.append(key)
        published = await publish(self, draft, key)
        if after is not None:
            await after(key)
        return published

    monkeypatch.setattr(Mastodon, "publish", counted)
    return keys


async def test_a_worker_that_lost_its_lease_keeps_what_it_sent_but_not_the_job(
    sessionmaker: Sessions, ada: tuple[User, int], delivering: Delivering, instance: Instance
) -> None:
    """A worker paused so long that its lease ran out and another took the job: what it
    publishes is recorded (it is out there), but the job is the new holder's to end; the new
    holder finds it sent and publishes nothing."""
    delivery_id = await _post(sessionmaker, ada, "Hello")
    (first,) = await jobs.claim(sessionmaker, "w1", [compose.DELIVER], limit=1)
    async with session_scope(sessionmaker) as session:
        await session.execute(update(Job).values(leased_until=utcnow() - timedelta(seconds=1)))
    (second,) = await jobs.claim(sessionmaker, "w2", [compose.DELIVER], limit=1)

    assert await delivering.deliver(first) is jobs.ENDED
    assert (await _delivery(sessionmaker, delivery_id)).status == compose.SENT
    (job,) = await _jobs(sessionmaker)
    assert (job.worker, job.attempts) == ("w2", 2)

    assert await delivering.deliver(second) is jobs.ENDED
    assert await _jobs(sessionmaker) == []
    assert len(instance.posted) == 1


async def test_a_stop_between_published_and_recorded_publishes_again_with_the_same_key(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker stops after Mastodon took the post and before the portal wrote it down: the
    next run sends the same idempotency key, and Mastodon keeps one status."""
    delivery_id = await _post(sessionmaker, ada, "Hello")
    keys = _publishing(monkeypatch)
    _stop_once_before_recording(monkeypatch)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 1
    assert (await _delivery(sessionmaker, delivery_id)).status == compose.SENDING
    async with session_scope(sessionmaker) as session:  # its retry is due
        await session.execute(
            update(Job).where(Job.kind == compose.DELIVER).values(run_at=utcnow())
        )
    assert await worker.run_due() == 1

    delivery = await _delivery(sessionmaker, delivery_id)
    assert delivery.status == compose.SENT
    assert keys == [f"{delivery.key}.0", f"{delivery.key}.0"]
    assert len(instance.posted) == 1 and len(instance.statuses) == 1
    assert delivery.remote_url == instance.statuses[keys[0]]["url"]
    assert await _jobs(sessionmaker) == []


async def test_a_thread_cancelled_midway_keeps_its_parts_and_goes_on_when_retried(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled while its first part was going out: that part is kept (it can be taken down
    or continued), nothing more is sent, and a retry publishes the rest below it."""
    user, _ = ada
    delivery_id = await _post(sessionmaker, ada, LONG)
    post_id = (await _delivery(sessionmaker, delivery_id)).post_id

    async def cancel_after_first(key: str) -> None:
        if key.endswith(".0") and not instance.statuses.keys() - {key}:
            async with session_scope(sessionmaker) as session:
                await compose.cancel(session, user, post_id, delivery_id)

    keys = _publishing(monkeypatch, cancel_after_first)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 1
    delivery = await _delivery(sessionmaker, delivery_id)
    assert delivery.status == compose.CANCELLED
    (first,) = compose.parts_of(delivery)
    assert len(keys) == len(instance.posted) == 1
    assert await _jobs(sessionmaker) == []

    async with session_scope(sessionmaker) as session:
        await compose.retry(session, user, post_id, delivery_id)
    assert await worker.run_due() == 1
    delivery = await _delivery(sessionmaker, delivery_id)
    parts = compose.parts_of(delivery)
    assert delivery.status == compose.SENT and len(parts) >= 2 and parts[0] == first
    assert len(instance.posted) == len(parts)  # the first part was not sent twice
    assert instance.posted[1]["in_reply_to_id"] == [first.id]


async def test_a_pictures_upload_names_it_for_the_networks_that_fetch_it(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a delivery hands a connector names the picture it holds, so the address the
    portal gives for it (Instagram's way of taking pictures) opens that picture."""
    user, account_id = ada
    async with session_scope(sessionmaker) as session:
        media = await compose.keep_picture(
            session, user, Picture(b"\xff\xd8 the engine", "image/jpeg", 4, 3)
        )
        await compose.save(
            session,
            user,
            compose.Composed(
                "The engine",
                [compose.Target(account_id)],
                [compose.Attached(media.id, "A teal engine")],
            ),
            base_url="https://portal.test",
        )
    given: list[base.Upload] = []
    publish = Mastodon.publish

    async def seen(self: Mastodon, draft: base.Draft, key: str) -> base.Published:
        given.extend(draft.uploads)
        return await publish(self, draft, key)

    monkeypatch.setattr(Mastodon, "publish", seen)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 1
    (upload,) = given
    media_url = app.state.links.context.media_url
    token = (await media_url(upload)).rsplit("/", 1)[1]
    async with sessionmaker() as session:
        found = await public_pictures.picture(session, token, app.state.settings.secret_key)
    assert (found.id, found.data) == (media.id, b"\xff\xd8 the engine")


async def _all_jobs(sessions: Sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        return [(job.kind, job.subject) for job in await session.scalars(select(Job))]


async def test_a_post_deleted_while_its_copy_is_sent_has_that_copy_taken_down(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deleted while the first part of a thread was going out: the take-down that comes
    first waits for the worker, which records that part and publishes no more; then the
    part is deleted on Mastodon and the copy is deleted, not left out there."""
    user, _ = ada
    delivery_id = await _post(sessionmaker, ada, LONG)
    post_id = (await _delivery(sessionmaker, delivery_id)).post_id
    early: list[int] = []

    async def delete_after_first(key: str) -> None:
        if key.endswith(".0") and not early:
            async with session_scope(sessionmaker) as session:
                loaded = await compose.delete(session, user, post_id)
            assert [d.status for d in loaded.deliveries] == [compose.DELETING]
            other = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
            early.append(await other.run_due())  # the take-down, while the part is on its way
            assert (await _delivery(sessionmaker, delivery_id)).status == compose.DELETING
            assert instance.deleted == []

    keys = _publishing(monkeypatch, delete_after_first)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 2  # the delivery, then the take-down made due again
    assert early == [1]

    delivery = await _delivery(sessionmaker, delivery_id)
    (part,) = compose.parts_of(delivery)
    assert delivery.status == compose.DELETED
    assert len(keys) == len(instance.posted) == 1
    assert instance.deleted == [part.id]
    assert await _all_jobs(sessionmaker) == []


async def test_a_stop_after_a_deleted_posts_copy_went_out_still_takes_it_down(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deleted while its copy was going out, and the worker stopped after Mastodon took it,
    before the portal wrote it down: the take-down does not call the copy deleted with no
    part known; the delivery's next run sends the same key, learns the status Mastodon
    kept, and that status is deleted."""
    user, _ = ada
    delivery_id = await _post(sessionmaker, ada, "Hello")
    post_id = (await _delivery(sessionmaker, delivery_id)).post_id

    async def delete_once(key: str) -> None:
        if len(keys) == 1:
            async with session_scope(sessionmaker) as session:
                await compose.delete(session, user, post_id)

    keys = _publishing(monkeypatch, delete_once)
    _stop_once_before_recording(monkeypatch)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 2  # the delivery that stopped, and the take-down waiting
    delivery = await _delivery(sessionmaker, delivery_id)
    assert (delivery.status, compose.parts_of(delivery)) == (compose.DELETING, [])
    assert instance.deleted == []

    async with session_scope(sessionmaker) as session:  # the delivery's retry is due
        await session.execute(
            update(Job).where(Job.kind == compose.DELIVER).values(run_at=utcnow())
        )
    assert await worker.run_due() == 2

    delivery = await _delivery(sessionmaker, delivery_id)
    assert delivery.status == compose.DELETED
    assert keys == [f"{delivery.key}.0", f"{delivery.key}.0"]
    assert len(instance.posted) == 1
    assert instance.deleted == [instance.statuses[keys[0]]["id"]]
    assert await _all_jobs(sessionmaker) == []


async def test_a_copy_sent_as_its_post_was_deleted_where_apps_cannot_delete_says_so(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a network that lets no app delete a post, the copy that went out as its post was
    deleted is left as one sent, saying where to delete it, as a copy sent before would."""
    user, _ = ada
    delivery_id = await _post(sessionmaker, ada, "Hello")
    post_id = (await _delivery(sessionmaker, delivery_id)).post_id

    async def delete(key: str) -> None:
        async with session_scope(sessionmaker) as session:
            await compose.delete(session, user, post_id)

    _publishing(monkeypatch, delete)
    monkeypatch.setattr(Mastodon, "CAN_DELETE", False)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 2

    delivery = await _delivery(sessionmaker, delivery_id)
    assert delivery.status == compose.SENT
    assert delivery.error == "Mastodon does not let apps delete posts: delete it there."
    assert delivery.remote_url == instance.statuses[f"{delivery.key}.0"]["url"]
    assert instance.deleted == []
    assert await _all_jobs(sessionmaker) == []


async def test_deleting_a_thread_that_failed_halfway_takes_down_its_first_part(
    sessionmaker: Sessions,
    ada: tuple[User, int],
    delivering: Delivering,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread whose second part Mastodon refused failed with its first part out: deleting
    the post deletes that part, instead of only cancelling what failed."""
    user, _ = ada
    delivery_id = await _post(sessionmaker, ada, LONG)
    post_id = (await _delivery(sessionmaker, delivery_id)).post_id

    async def refuse_the_rest(key: str) -> None:
        instance.failure = httpx.Response(422, json={"error": "Validation failed"})

    _publishing(monkeypatch, refuse_the_rest)
    worker = jobs.Worker(sessionmaker, delivering.handlers(), concurrency=1)
    assert await worker.run_due() == 1
    delivery = await _delivery(sessionmaker, delivery_id)
    (first,) = compose.parts_of(delivery)
    assert delivery.status == compose.FAILED

    async with session_scope(sessionmaker) as session:
        loaded = await compose.delete(session, user, post_id)
    assert [d.status for d in loaded.deliveries] == [compose.DELETING]
    assert await worker.run_due() == 1
    assert (await _delivery(sessionmaker, delivery_id)).status == compose.DELETED
    assert instance.deleted == [first.id]


def _stop_once_before_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stops, once, after the network took a part and before the portal wrote
    it down (as a worker killed there would)."""
    record = Delivering._record
    stopped = False

    async def stop_once(self: Delivering, *args: Any, **kwargs: Any) -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            raise RuntimeError("the worker stopped here")
        await record(self, *args, **kwargs)

    monkeypatch.setattr(Delivering, "_record", stop_once)


async def test_copies_sent_at_once_are_recorded_together_and_a_cancelled_one_apart(
    databases: Databases, app: FastAPI, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three copies of a post go out at once, on a database of their own (the worker's
    transactions are real ones): the two still *sending* when recorded are *sent*, each
    delivery's job turned into the reading of its answers; the one cancelled while its
    status was on its way keeps what went out, and its job ends."""
    async with own_database(databases, "together") as (_, sessions):
        async with session_scope(sessions, writing=True) as session:
            user = await people.person(session, "Ada")
            targets = []
            for name in ("ada", "bea", "cy"):
                linked = await mastodon_account(session, app, user, name)
                targets.append(compose.Target(linked.id))
            saved = await compose.save(
                session, user, compose.Composed("Hello", targets), base_url="https://portal.test"
            )
        ids = sorted(delivery.id for delivery in saved.deliveries)
        (second,) = [d for d in saved.deliveries if d.id == ids[1]]

        async def cancel_the_second(key: str) -> None:
            if key.startswith(second.key):
                async with session_scope(sessions, writing=True) as session:
                    await session.execute(
                        update(Delivery)
                        .where(Delivery.id == second.id)
                        .values(status=compose.CANCELLED)
                    )

        _publishing(monkeypatch, after=cancel_the_second)
        worker = job_worker(app.state.settings, sessions, app.state.links, concurrency=3)
        assert await worker.run_due() == 3
        async with sessions() as session:
            deliveries = {
                d.id: d for d in await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
            }
            left = {(job.kind, job.subject) for job in await session.scalars(select(Job))}
    assert len(instance.posted) == 3
    assert [deliveries[i].status for i in ids] == ["sent", "cancelled", "sent"]
    assert all(deliveries[i].remote_id for i in ids)  # the cancelled one keeps its copy
    assert left == {("backfeed", str(ids[0])), ("backfeed", str(ids[2]))}
