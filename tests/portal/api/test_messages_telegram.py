"""Writing to a person on Telegram through the portal's bot: Grace proved her Telegram account
with the Login Widget; Ada, with or without a Telegram account, writes to her and the bot
writes in Grace's private chat with it, Ada introduced; Grace's replies come back through the
bot's updates into Ada's conversation.

The Bot API is faked with respx in the shapes https://core.telegram.org/bots/api documents;
Matrix and XMPP, where a test needs a second messenger, are the real servers the fixtures
start."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.config import Settings
from portal.domain import account, jobs, linking
from portal.domain import number as numbers
from portal.domain.messages import answers
from portal.domain.posts import backfeed
from portal.storage.messages import MessageCopy
from portal.storage.models import LinkedAccount, Notification, User, utcnow
from tests.connectors.test_matrix import Inbox
from tests.connectors.test_telegram_direct import bots_message, users_message
from tests.connectors.test_telegram_publish import API, TOKEN, failed, ok
from tests.connectors.test_telegram_updates import ALAN, GRACE, updates
from tests.fixtures.app import HTML, my_number
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import Person, messaging_settings, messenger
from tests.fixtures.publishing import due_now, post_worker
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

SENT = 77
"""The number the bot's message gets in Grace's chat."""


@pytest.fixture
def settings(xmpp_server: XMPPServer) -> Settings:
    return messaging_settings(
        xmpp_server, telegram_bot_token=TOKEN, telegram_bot_username="portal_bot"
    )


@pytest.fixture
def telegram() -> Iterator[respx.MockRouter]:
    """The Bot API faked; every other address (the Matrix homeserver) reached for real."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(f"{API}/sendMessage").mock(return_value=ok(bots_message(SENT)))
        router.post(f"{API}/deleteMessage").mock(return_value=ok(True))
        router.post(f"{API}/getUpdates").mock(return_value=ok([]))
        router.route(host__regex=r"^(?!api\.telegram\.org$)").pass_through()
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def worker(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> jobs.Worker:
    return post_worker(app, sessionmaker)


async def on_telegram(db: AsyncSession, user: User, who: dict[str, Any] = GRACE) -> LinkedAccount:
    """``user``'s Telegram account, proven by the Login Widget (its number kept)."""
    linked = LinkedAccount(
        user_id=user.id,
        network="telegram",
        handle=who["username"].lower(),
        external_id=str(who["id"]),
        status=linking.VERIFIED,
        verified_by="widget",
        position=5,
    )
    db.add(linked)
    await db.flush()
    return linked


async def _headers(db: AsyncSession, user: User) -> dict[str, str]:
    return {"authorization": f"Bearer {(await account.create_token(db, user, name='t')).secret}"}


async def _message(client: httpx.AsyncClient, headers: dict[str, str], message_id: str) -> Any:
    got = await client.get(f"/api/v1/messages/{message_id}", headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


def _copies(message: Any) -> list[tuple[str, str, str]]:
    return [(c["network"], c["status"], c["error"]) for c in message["copies"]]


async def test_the_bot_writes_for_someone_without_telegram_introducing_them(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    ada = await people.person(db, "Ada Lovelace")
    grace = await people.person(db, "Grace Hopper")
    await people.befriend(db, ada, grace)
    await on_telegram(db, grace)
    ada_headers = await _headers(db, ada)
    await db.commit()

    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.number, "text": "Tea at five? https://example.org/menu"},
        headers=ada_headers,
    )
    assert sent.status_code == 202, sent.text
    [copy] = sent.json()["copies"]
    assert (copy["network"], copy["status"], copy["to"], copy["by_bot"]) == (
        "telegram",
        "queued",
        "grace_hopper",
        True,
    )
    assert sent.json()["links"] == []  # not also a link to Ada's own app

    assert await worker.run_due() == 1
    request = json.loads(telegram.routes[0].calls.last.request.content)
    assert request["chat_id"] == GRACE["id"]
    assert request["text"] == (
        f"Ada Lovelace (Portal {numbers.display(ada.number)}) writes:\n\n"
        "Tea at five? https://example.org/menu"
    )
    assert request["link_preview_options"] == {"is_disabled": True}
    shown = await _message(client, ada_headers, sent.json()["id"])
    assert _copies(shown) == [("telegram", "sent", "")]
    assert shown["copies"][0]["remote_id"] == str(SENT)
    # Going out brought the reading of the bot's updates forward, to 20 seconds on.
    due = await jobs.due_at(db, backfeed.BOT_UPDATES, backfeed.BOT)
    assert due is not None and due <= utcnow() + timedelta(seconds=21)

    # Grace shows her name to her contacts only, and Linus is not one: the bot says his
    # number alone to her, in her language.
    linus = await people.person(db, "Linus", name_audience="contacts")
    grace.messages_from = "members"
    grace.language = "fr"
    linus_headers = await _headers(db, linus)
    await db.commit()
    sent = await client.post(
        "/api/v1/messages", json={"to": grace.number, "text": "Bonjour"}, headers=linus_headers
    )
    assert sent.status_code == 202, sent.text
    accepted = await client.post(
        f"/api/v1/conversations/{linus.number}/accept", headers=await _headers(db, grace)
    )
    assert accepted.status_code == 204, accepted.text
    await worker.run_due()
    request = json.loads(telegram.routes[0].calls.last.request.content)
    assert request["text"] == f"Portal {numbers.display(linus.number)} écrit :\n\nBonjour"


async def test_without_a_bot_or_a_proven_account_telegram_is_a_link_to_ones_own_app(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, telegram: respx.MockRouter
) -> None:
    ada = await people.person(db, "Ada Lovelace")
    grace = await people.person(db, "Grace Hopper")
    linus = await people.person(db, "Linus")
    for other in (grace, linus):
        await people.befriend(db, ada, other)
    await on_telegram(db, grace)
    await people.account(db, linus, "telegram", "linus_t")  # typed, not proven
    headers = await _headers(db, ada)
    await db.commit()

    typed = await client.post(
        "/api/v1/messages", json={"to": linus.number, "text": "Hi"}, headers=headers
    )
    assert typed.status_code == 202, typed.text
    assert typed.json()["copies"] == []
    assert [link["url"] for link in typed.json()["links"]] == ["tg://resolve?domain=linus_t"]

    app.state.links = dataclasses.replace(app.state.links, telegram_bot_token="")
    no_bot = await client.post(
        "/api/v1/messages", json={"to": grace.number, "text": "Hi"}, headers=headers
    )
    assert no_bot.status_code == 202, no_bot.text
    assert no_bot.json()["copies"] == []
    assert [link["network"] for link in no_bot.json()["links"]] == ["telegram"]


async def test_the_form_offers_telegram_by_the_bot(
    signed_in: httpx.AsyncClient, db: AsyncSession, telegram: respx.MockRouter
) -> None:
    me = await db.scalar(select(User).where(User.number == await my_number(signed_in)))
    assert me is not None
    grace = await people.person(db, "Grace Hopper")
    await people.befriend(db, me, grace)
    await on_telegram(db, grace)
    await db.commit()
    form = await signed_in.get(f"/messages/new?to={grace.number}", headers=HTML)
    assert form.status_code == 200, form.text
    assert 'name="networks" value="telegram" checked' in form.text
    assert "by Portal&#39;s bot, with your name and number" in form.text


async def test_one_who_did_not_let_the_bot_write_is_said_so_and_the_next_messenger_goes(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    ada = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada")
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    await people.befriend(db, ada.user, grace.user)
    theirs = await on_telegram(db, grace.user)
    await db.commit()
    mine = {a.network: a.id for a in await db.scalars(
        select(LinkedAccount).where(LinkedAccount.user_id == grace.user.id))}  # fmt: skip
    ordered = await client.put(
        "/api/v1/me/reach",
        json={"channels": [theirs.id, mine["matrix"], mine["xmpp"]]},
        headers=grace.headers,
    )
    assert ordered.status_code == 200, ordered.text
    refused = failed(403, "Forbidden: bot can't initiate conversation with a user")
    telegram.routes[0].mock(return_value=refused)

    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea?", "mode": "first"},
        headers=ada.headers,
    )
    assert sent.status_code == 202, sent.text
    assert [(c["network"], c["status"]) for c in sent.json()["copies"]] == [
        ("telegram", "queued"),
        ("matrix", "waiting"),
        ("xmpp", "waiting"),
    ]
    assert await worker.run_due() == 2
    words = "Grace has not allowed Portal's bot to write to them on Telegram."
    assert _copies(await _message(client, ada.headers, sent.json()["id"])) == [
        ("telegram", "failed", words),
        ("matrix", "sent", ""),
        ("xmpp", "skipped", ""),
    ]

    # Blocked later, on a message to all at once: said the same; asked to wait, it waits.
    telegram.routes[0].mock(return_value=failed(403, "Forbidden: bot was blocked by the user"))
    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Still there?", "channels": ["telegram"]},
        headers=ada.headers,
    )
    assert await worker.run_due() == 1
    assert _copies(await _message(client, ada.headers, sent.json()["id"])) == [
        ("telegram", "failed", words)
    ]
    limited = failed(429, "Too Many Requests: retry after 90", retry_after=90)
    telegram.routes[0].mock(return_value=limited)
    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Later?", "channels": ["telegram"]},
        headers=ada.headers,
    )
    assert await worker.run_due() == 1
    [copy] = (await _message(client, ada.headers, sent.json()["id"]))["copies"]
    assert copy["status"] == "retrying"
    # Against the time of the copy's own attempt, not the test's clock, which runs on.
    attempted = await db.scalar(select(MessageCopy.updated_at).where(MessageCopy.id == copy["id"]))
    assert attempted is not None
    assert (
        timedelta(seconds=85)
        < datetime.fromisoformat(copy["next_attempt_at"]) - attempted
        <= timedelta(seconds=90)
    )


async def _write_to_both(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    worker: jobs.Worker,
) -> tuple[Person, Person, str]:
    """Ada writes to Grace on Telegram, by the bot, and on Matrix; both copies go out."""
    ada = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada")
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    await people.befriend(db, ada.user, grace.user)
    await on_telegram(db, grace.user)
    await db.commit()
    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea at five?", "channels": ["telegram", "matrix"]},
        headers=ada.headers,
    )
    assert sent.status_code == 202, sent.text
    assert await worker.run_due() == 2
    message_id: str = sent.json()["id"]
    assert [c["status"] for c in (await _message(client, ada.headers, message_id))["copies"]] == [
        "sent",
        "sent",
    ]
    return ada, grace, message_id


async def _conversation(client: httpx.AsyncClient, who: Person, other: Person) -> list[Any]:
    got = await client.get(f"/api/v1/conversations/{other.user.number}", headers=who.headers)
    assert got.status_code == 200, got.text
    return [(e["kind"], e["mine"], e["text"], e["networks"]) for e in got.json()["entries"]]


async def _told(db: AsyncSession, person: Person) -> list[tuple[str, int | None]]:
    found = await db.scalars(select(Notification).where(Notification.user_id == person.user.id))
    return [(n.kind, n.actor_id) for n in found]


async def test_a_reply_to_the_bot_comes_into_the_conversation_and_matrix_is_taken_back(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    ada, grace, message_id = await _write_to_both(
        client, db, app, http, matrix_homeserver, xmpp_server, worker
    )
    ours = bots_message(SENT, text="Ada (Portal …) writes:\n\nTea at five?")
    read = telegram.routes[2].mock(
        return_value=ok(
            updates(
                users_message(SENT + 1, text="/start"),  # not a reply: answers nothing
                # Alan answers the bot's message of the same number in his own chat.
                users_message(SENT, ALAN, reply=bots_message(SENT, ALAN), text="Not Grace"),
                users_message(SENT + 2, reply=ours, text="Yes! At the usual place."),
                first=900,
            )
        )
    )
    await due_now(db, backfeed.BOT_UPDATES)
    await worker.run_due()  # the bot's updates, and the withdrawal they ask for
    assert read.called
    assert await _conversation(client, ada, grace) == [
        ("message", True, "Tea at five?", ["matrix", "telegram"]),
        ("answer", False, "Yes! At the usual place.", ["telegram"]),
    ]
    assert await _told(db, ada) == [("message_answered", grace.user.id)]
    copies = {
        c.network: c.status
        for c in await db.scalars(
            select(MessageCopy)
            .where(MessageCopy.message_id == message_id)
            .execution_options(populate_existing=True)
        )
    }
    assert copies == {"telegram": "sent", "matrix": answers.WITHDRAWN}
    assert telegram.routes[1].call_count == 0  # the answered copy stays

    # The same updates read again (a crash before they were confirmed): nothing more.
    await due_now(db, backfeed.BOT_UPDATES)
    await worker.run_due()
    assert read.call_count == 2
    assert len(await _conversation(client, ada, grace)) == 2
    assert await _told(db, ada) == [("message_answered", grace.user.id)]
    # While the copy is young the bot keeps reading.
    due = await jobs.due_at(db, backfeed.BOT_UPDATES, backfeed.BOT)
    assert due is not None and due > utcnow()


async def test_an_answer_on_matrix_has_the_bot_delete_its_telegram_message(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    http: httpx.AsyncClient,
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    telegram: respx.MockRouter,
    worker: jobs.Worker,
) -> None:
    ada, grace, message_id = await _write_to_both(
        client, db, app, http, matrix_homeserver, xmpp_server, worker
    )
    inbox = Inbox(matrix_homeserver, http, grace.matrix)
    [room] = await inbox.accept_invitations()
    answered = await http.put(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
        headers=grace.matrix.headers,
        json={"msgtype": "m.text", "body": "Yes!"},
    )
    assert answered.status_code == 200, answered.text
    await due_now(db, answers.READ)
    await worker.run_due()
    deleted = telegram.routes[1]
    assert deleted.call_count == 1
    assert json.loads(deleted.calls.last.request.content) == {
        "chat_id": GRACE["id"],
        "message_id": SENT,
    }
    copies = {
        c.network: c.status
        for c in await db.scalars(
            select(MessageCopy)
            .where(MessageCopy.message_id == message_id)
            .execution_options(populate_existing=True)
        )
    }
    assert copies == {"telegram": answers.WITHDRAWN, "matrix": "sent"}
    assert await _conversation(client, ada, grace) == [
        ("message", True, "Tea at five?", ["matrix", "telegram"]),
        ("answer", False, "Yes!", ["matrix"]),
    ]
