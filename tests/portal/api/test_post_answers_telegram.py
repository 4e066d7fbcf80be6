"""Answers come home from Telegram: a post published in a channel through the portal's bot;
the comments made on it in the channel's discussion group come to the bot as updates (faked
with respx in the shapes https://core.telegram.org/bots/api documents), are kept as the post's
answers, shown with a link to answer there, and told to the author once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.config import Settings
from portal.domain import account, jobs, linking
from portal.domain.posts import backfeed
from portal.storage.models import LinkedAccount, utcnow
from portal.storage.posts import Delivery, Job, TelegramBot, TelegramThread
from tests.connectors.test_telegram_publish import (
    ACCOUNT,
    ADMIN_WHO_POSTS,
    API,
    CHANNEL,
    TOKEN,
    failed,
    message,
    ok,
)
from tests.connectors.test_telegram_updates import ALAN, GRACE, GROUP, comment, forwarded, updates
from tests.fixtures.app import make_settings
from tests.fixtures.publishing import get_post, notifications_of, post_worker, read_answers
from tests.portal.domain import people

POST = 41
"""The number the channel gives the published post."""
THREAD = 7
"""The number of its forward in the discussion group."""


@pytest.fixture
def settings() -> Settings:
    return make_settings(telegram_bot_token=TOKEN, telegram_bot_username="portal_bot")


@pytest.fixture
def telegram() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(f"{API}/getChatMember").mock(return_value=ok(ADMIN_WHO_POSTS))
        router.post(f"{API}/sendMessage").mock(return_value=ok(message(POST, text="Tea?")))
        yield router


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> dict[str, Any]:
    user = await people.person(db, "Ada")
    token = (await account.create_token(db, user, name="tests")).secret
    linked = LinkedAccount(
        user_id=user.id,
        network="telegram",
        handle="ada_lovelace",
        external_id=str(ACCOUNT),
        status=linking.VERIFIED,
    )
    db.add(linked)
    credentials = base.Credentials(extra={"id": str(ACCOUNT)})
    linking.store_credentials(app.state.links, linked, credentials)
    await db.commit()
    return {"headers": {"authorization": f"Bearer {token}"}, "account": linked.id, "user": user.id}


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    return post_worker(app, sessionmaker)


async def _published(client: httpx.AsyncClient, ada: dict[str, Any], worker: jobs.Worker) -> str:
    created = await client.post(
        "/api/v1/posts",
        json={
            "text": "Tea at five?",
            "targets": [{"account_id": ada["account"], "destination": "@portal_news"}],
        },
        headers=ada["headers"],
    )
    assert created.status_code == 201, created.text
    await worker.run_due()
    post = await get_post(client, ada, created.json()["id"])
    assert post["deliveries"][0]["status"] == "sent", post
    return str(post["id"])


async def test_comments_in_the_discussion_group_come_home(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    post_id = await _published(client, ada, worker)
    # Going out started the reading of the bot's updates, a minute on.
    due = await jobs.due_at(db, backfeed.BOT_UPDATES, backfeed.BOT)
    assert due is not None and due > utcnow() + timedelta(seconds=30)

    by_ada = {"id": ACCOUNT, "is_bot": False, "first_name": "Ada", "username": "ada_lovelace"}
    read = telegram.post(f"{API}/getUpdates").mock(
        return_value=ok(
            updates(
                forwarded(THREAD, POST),
                comment(8, THREAD, text="Yes, at five!"),
                comment(9, THREAD, ALAN, reply=comment(8, THREAD), text="Me too"),
                comment(10, THREAD, sender_chat=CHANNEL, text="Thanks, all"),  # the channel's
                comment(11, THREAD, by_ada, text="See you"),  # the author's own
                comment(12, 99, reply={}, text="On another post"),
            )
        )
    )
    found = await read_answers(client, ada, worker, post_id)

    assert json.loads(read.calls.last.request.content)["allowed_updates"] == [
        "message",
        "edited_message",
    ]
    answers = [(a["kind"], a["author_name"], a["text"]) for a in found["answers"]]
    assert answers == [("reply", "Grace Hopper", "Yes, at five!"), ("reply", "Alan", "Me too")]
    grace, alan = found["answers"]
    assert grace["network"] == "telegram" and grace["author_handle"] == "grace_hopper"
    assert grace["url"] == f"https://t.me/portal_news/{POST}?comment=8"
    assert alan["in_reply_to"] == f"{GROUP['id']}:8"
    (told,) = await notifications_of(db, ada["user"])
    assert told.post_id == post_id and json.loads(told.detail)["count"] == "2"
    assert json.loads(told.detail)["network"] == "Telegram"
    delivery = await db.scalar(select(Delivery).where(Delivery.post_id == post_id))
    assert delivery is not None and delivery.answers_read_at is not None
    assert await db.get(TelegramThread, (str(GROUP["id"]), THREAD)) is not None

    # The next read asks for what came after; a comment changed is changed, nothing is told
    # again, and the same updates read twice (a crash before they were confirmed) add nothing.
    state = await db.get(TelegramBot, TOKEN.partition(":")[0])
    assert state is not None and state.next_update == 506
    read.mock(
        return_value=ok(
            updates(comment(8, THREAD, text="Yes, at half past five!"), first=506, edited=True)
            + updates(comment(9, THREAD, ALAN, reply=comment(8, THREAD), text="Me too"), first=507)
        )
    )
    again = await read_answers(client, ada, worker, post_id)
    assert json.loads(read.calls.last.request.content)["offset"] == 506
    assert [a["text"] for a in again["answers"]] == ["Yes, at half past five!", "Me too"]
    assert len(await notifications_of(db, ada["user"])) == 1

    # While a copy is young the bot keeps reading; the job is due again.
    db.expire_all()
    job = await db.scalar(select(Job).where(Job.kind == backfeed.BOT_UPDATES))
    assert job is not None and job.run_at > utcnow()


async def test_the_reading_rests_when_no_copy_is_young_and_waits_when_refused(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    post_id = await _published(client, ada, worker)
    read = telegram.post(f"{API}/getUpdates")

    read.mock(return_value=failed(429, "Too Many Requests: retry after 90", retry_after=90))
    await read_answers(client, ada, worker, post_id)
    assert await _due_in(db) >= timedelta(seconds=85)

    webhook = "Conflict: can't use getUpdates method while webhook is active"
    read.mock(return_value=failed(409, webhook + "; use deleteWebhook to delete the webhook first"))
    await read_answers(client, ada, worker, post_id)
    assert await _due_in(db) >= timedelta(minutes=55)

    await db.execute(update(Delivery).values(sent_at=utcnow() - timedelta(days=31)))
    await db.commit()
    calls = read.call_count
    await jobs.enqueue(db, backfeed.BOT_UPDATES, backfeed.BOT)
    await db.commit()
    assert await worker.run_due() == 1
    assert read.call_count == calls  # nothing young: Telegram is not asked, the job rests
    assert await _due_in(db) >= timedelta(hours=23)
    # A copy that goes out wakes it, a minute on.
    await _published(client, ada, worker)
    assert await _due_in(db) <= timedelta(minutes=1)


async def _due_in(db: AsyncSession) -> timedelta:
    db.expire_all()
    due = await jobs.due_at(db, backfeed.BOT_UPDATES, backfeed.BOT)
    assert due is not None
    return due - utcnow()


async def test_a_comment_on_a_post_of_another_channel_is_not_an_answer(
    client: httpx.AsyncClient,
    db: AsyncSession,
    ada: dict[str, Any],
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    """The bot sits in many discussion groups: a forward of another channel's post with the
    same number names no copy of the portal's."""
    post_id = await _published(client, ada, worker)
    other = {"id": -1005555555555, "title": "Elsewhere", "username": "elsewhere", "type": "channel"}
    forward = forwarded(THREAD, POST)
    forward["forward_origin"] = {**forward["forward_origin"], "chat": other}
    telegram.post(f"{API}/getUpdates").mock(
        return_value=ok(updates(forward, comment(8, THREAD, GRACE, reply=forward, text="Hi")))
    )
    found = await read_answers(client, ada, worker, post_id)
    assert found["answers"] == []
    assert await db.get(TelegramThread, (str(GROUP["id"]), THREAD)) is None
