"""Answers come home: replies and likes of a published post, read back from a Mastodon instance
faked at the HTTP layer (respx, the documented shapes), kept, shown with the portal numbers of
those who may be shown, and told to the author."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import account, jobs, linking
from portal.domain.linking.services import label_of
from portal.domain.posts import backfeed
from portal.storage.models import LinkedAccount
from portal.storage.posts import Answer, Job
from tests.fixtures.publishing import (
    INSTANCE,
    Instance,
    get_post,
    notifications_of,
    post_worker,
    publisher,
    read_answers,
)
from tests.portal.domain import people

LIKER = json.loads(
    (Path(__file__).resolve().parents[2] / "testdata" / "mastodon" / "account.json").read_text()
)


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> dict[str, Any]:
    return await publisher(db, app)


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    return post_worker(app, sessionmaker)


async def _published(
    client: httpx.AsyncClient, ada: dict[str, Any], worker: jobs.Worker, text: str = "Tea at five?"
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/posts",
        json={"text": text, "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )
    assert created.status_code == 201, created.text
    await worker.run_due()
    post = await get_post(client, ada, created.json()["id"])
    assert post["deliveries"][0]["status"] == "sent"
    return post


async def test_replies_and_likes_come_home_and_new_replies_are_told(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
) -> None:
    post = await _published(client, ada, worker)
    status_id = post["deliveries"][0]["remote_id"]
    instance.reply("2001", status_id, "Yes, at five!")
    instance.reply("2002", "2001", "Count me in", acct="cat")
    instance.likers.append(LIKER)

    found = await read_answers(client, ada, worker, post["id"])

    answers = [(a["kind"], a["author_handle"], a["text"]) for a in found["answers"]]
    assert sorted(answers) == [
        ("like", "noiob@awoo.space", ""),
        ("reply", f"cat@{INSTANCE}", "Count me in"),
        ("reply", f"gargron@{INSTANCE}", "Yes, at five!"),
    ]
    first = next(a for a in found["answers"] if a["text"] == "Yes, at five!")
    assert first["in_reply_to"] == status_id
    assert first["url"] and first["network"] == "mastodon"
    assert first["number"] is None
    (told,) = await notifications_of(db, ada["user"])
    assert told.kind == "post_answers" and told.post_id == post["id"]
    assert json.loads(told.detail)["count"] == "2"

    # Read again: nothing new, nothing told again; a like taken back goes.
    instance.likers.clear()
    again = await read_answers(client, ada, worker, post["id"])
    assert sorted(a["kind"] for a in again["answers"]) == ["reply", "reply"]
    assert len(await notifications_of(db, ada["user"])) == 1

    listed = await client.get("/api/v1/notifications", headers=ada["headers"])
    assert listed.status_code == 200
    assert f"/posts/{post['id']}" in listed.text


async def test_someone_with_a_portal_number_is_shown_by_it_if_they_let_the_author_see(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
) -> None:
    bob = await people.person(db, "Bob")
    linked = LinkedAccount(
        user_id=bob.id,
        network="mastodon",
        handle=f"gargron@{INSTANCE}",
        status=linking.VERIFIED,
        audience="public",
    )
    db.add(linked)
    await db.commit()
    post = await _published(client, ada, worker)
    instance.reply("2001", post["deliveries"][0]["remote_id"], "Hi Ada")

    found = await read_answers(client, ada, worker, post["id"])
    (reply,) = found["answers"]
    assert reply["number"] == bob.number

    linked.audience = "private"
    await db.commit()
    (reply,) = (await get_post(client, ada, post["id"]))["answers"]
    assert reply["number"] is None


async def test_the_accounts_own_thread_and_likes_are_not_answers(
    client: httpx.AsyncClient, ada: dict[str, Any], instance: Instance, worker: jobs.Worker
) -> None:
    post = await _published(client, ada, worker)
    status_id = post["deliveries"][0]["remote_id"]
    instance.reply("2001", status_id, "More from me", acct="ada")

    found = await read_answers(client, ada, worker, post["id"])

    assert found["answers"] == []


async def test_a_rate_limit_puts_the_next_read_off_as_asked(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
) -> None:
    post = await _published(client, ada, worker)
    instance.answers_failure = httpx.Response(429, headers={"retry-after": "600"})

    await read_answers(client, ada, worker, post["id"])

    job = await db.scalar(select(Job).where(Job.kind == backfeed.BACKFEED))
    assert job is not None
    wait = (job.run_at - datetime.now(UTC)).total_seconds()
    assert 590 < wait <= 600


async def test_a_revoked_token_stops_the_reading(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
) -> None:
    post = await _published(client, ada, worker)
    instance.answers_failure = httpx.Response(401, json={"error": "The access token is invalid"})

    await read_answers(client, ada, worker, post["id"])

    assert await db.scalar(select(Job).where(Job.kind == backfeed.BACKFEED)) is None
    assert (await get_post(client, ada, post["id"]))["answers"] == []
    db.expire_all()
    linked = await db.get(LinkedAccount, ada["account"])
    assert linked is not None and linked.status == "needs_reconnect"


async def test_anothers_post_answers_like_one_that_does_not_exist(
    client: httpx.AsyncClient, db: AsyncSession, ada: dict[str, Any], instance: Instance,
    worker: jobs.Worker,
) -> None:  # fmt: skip
    post = await _published(client, ada, worker)
    eve = await people.person(db, "Eve")
    token = (await account.create_token(db, eve, name="tests")).secret
    await db.commit()
    headers = {"authorization": f"Bearer {token}"}

    theirs = await client.post(f"/api/v1/posts/{post['id']}/answers/read", headers=headers)
    unknown = await client.post("/api/v1/posts/nothing-here/answers/read", headers=headers)

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"]
    assert await db.scalar(select(Answer.id)) is None


@pytest.mark.parametrize(
    ("age", "every"),
    [
        (timedelta(minutes=5), timedelta(minutes=2)),
        (timedelta(hours=2), timedelta(minutes=10)),
        (timedelta(hours=12), timedelta(minutes=30)),
        (timedelta(days=3), timedelta(hours=3)),
        (timedelta(days=20), timedelta(hours=12)),
    ],
)
def test_answers_are_read_less_often_as_the_post_ages(age: timedelta, every: timedelta) -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert backfeed.next_read(now - age, now) == now + every


def test_after_a_month_answers_are_no_longer_read() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert backfeed.next_read(now - timedelta(days=31), now) is None


async def test_the_answers_of_a_copy_are_first_read_a_minute_after_it_went_out(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    instance: Instance,
    worker: jobs.Worker,
) -> None:
    post = await _published(client, ada, worker)

    job = await db.scalar(select(Job).where(Job.kind == backfeed.BACKFEED))
    assert job is not None and job.subject == str(post["deliveries"][0]["id"])
    sent_at = datetime.fromisoformat(post["deliveries"][0]["sent_at"])
    assert job.run_at == sent_at + backfeed.FIRST_READ


def test_a_network_this_version_no_longer_has_is_named_as_stored() -> None:
    """A copy or an answer kept from a network since removed still shows, by its stored
    name, and no answers are read there."""
    assert label_of("gone") == "gone" and label_of("mastodon") == "Mastodon"
    assert not backfeed.answers_come_home("gone")
