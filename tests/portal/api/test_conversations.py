"""Answers come back into one conversation, against the real servers the fixtures start: Ada
writes to Grace on Matrix and XMPP, Grace answers from her own Matrix client, and the answer
shows in Ada's conversation while the XMPP copy, unread, is taken back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import contacts, jobs, reach
from portal.domain.messages import answers
from portal.storage.messages import MessageCopy
from portal.storage.models import Notification, utcnow
from portal.storage.posts import Job
from tests.connectors.test_matrix import Inbox
from tests.connectors.test_xmpp_direct import online
from tests.fixtures import messaging
from tests.fixtures.matrix import MatrixHomeserver
from tests.fixtures.messaging import Person, conversation, messenger, said
from tests.fixtures.publishing import due_now, post_worker
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

settings = messaging.settings
two = messaging.two


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_an_answer_on_matrix_comes_back_and_the_unread_xmpp_copy_is_taken_back(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
) -> None:
    ada, grace = two
    worker: jobs.Worker = post_worker(app, sessionmaker)
    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea at five?"},
        headers=ada.headers,
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    assert await worker.run_due() == 2  # both copies out
    # Nothing answered yet: a read finds nothing, and nobody is told.
    await due_now(db, answers.READ)
    assert await worker.run_due() == 2
    assert said(await conversation(client, ada, grace)) == [
        ("message", True, "Tea at five?", ["matrix", "xmpp"])
    ]

    # Grace's own Matrix client joins the direct room and answers there.
    inbox = Inbox(matrix_homeserver, http, grace.matrix)
    [room] = await inbox.accept_invitations()
    answered = await http.put(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
        headers=grace.matrix.headers,
        json={"msgtype": "m.text", "body": "Yes! At the usual place."},
    )
    assert answered.status_code == 200, answered.text

    await due_now(db, answers.READ)
    assert await worker.run_due() >= 2  # the two reads (and the withdrawal they ask for)
    await worker.run_due()
    mine = await conversation(client, ada, grace)
    assert said(mine) == [
        ("message", True, "Tea at five?", ["matrix", "xmpp"]),
        ("answer", False, "Yes! At the usual place.", ["matrix"]),
    ]
    assert mine["entries"][1]["unread"] is True  # read now, by this very look
    assert (await conversation(client, ada, grace))["entries"][1]["unread"] is False

    # The XMPP copy was never read: it is taken back.
    copies = {
        copy.network: copy.status
        for copy in await db.scalars(
            select(MessageCopy).where(MessageCopy.message_id == message_id)
        )
    }
    assert copies == {"matrix": "sent", "xmpp": answers.WITHDRAWN}
    shown = await client.get(f"/api/v1/messages/{message_id}", headers=ada.headers)
    assert [c["status"] for c in shown.json()["copies"]] == ["sent", "withdrawn"]

    # Ada is told, once; reading again adds nothing.
    told = list(await db.scalars(select(Notification).where(Notification.user_id == ada.user.id)))
    assert [(n.kind, n.actor_id) for n in told] == [("message_answered", grace.user.id)]
    await due_now(db, answers.READ)
    await worker.run_due()
    assert len(said(await conversation(client, ada, grace))) == 2
    assert (
        await db.scalar(
            select(Notification.id).where(Notification.user_id == ada.user.id).offset(1)
        )
        is None
    )

    # Grace sees the same conversation from her side: Ada's message (new to her), her answer.
    theirs = await conversation(client, grace, ada)
    assert said(theirs) == [
        ("message", False, "Tea at five?", ["matrix", "xmpp"]),
        ("answer", True, "Yes! At the usual place.", ["matrix"]),
    ]
    assert [e["unread"] for e in theirs["entries"]] == [True, False]

    # Both lists: one conversation each, the answer the last word.
    for who, other, last_mine in ((ada, grace, False), (grace, ada, True)):
        listed = await client.get("/api/v1/conversations", headers=who.headers)
        assert listed.status_code == 200, listed.text
        [summary] = listed.json()
        assert summary["person"]["number"] == other.user.number
        assert summary["last"]["text"] == "Yes! At the usual place."
        assert summary["last"]["mine"] is last_mine
        assert summary["unread"] == 0


async def test_a_conversation_with_a_stranger_is_a_lookup_and_never_with_oneself(
    client: httpx.AsyncClient, two: tuple[Person, Person], db: AsyncSession
) -> None:
    ada, _ = two
    stranger = await people.person(db, "Linus")
    await db.commit()
    empty = await client.get(f"/api/v1/conversations/{stranger.number}", headers=ada.headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["entries"] == []
    # One's own number is no one to write with; a number with a typo is said to be one.
    for number, status in ((ada.user.number, 404), ("99999999", 422)):
        missing = await client.get(f"/api/v1/conversations/{number}", headers=ada.headers)
        assert missing.status_code == status, missing.text
    assert (await client.get("/api/v1/conversations", headers=ada.headers)).json() == []


async def test_a_first_message_from_someone_not_a_contact_waits_for_a_yes(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    ada = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada")
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    linus = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Linus")
    grace.user.messages_from = reach.MEMBERS
    await db.commit()
    worker = post_worker(app, sessionmaker)

    async def send(sender: Person, text: str) -> dict[str, Any]:
        sent = await client.post(
            "/api/v1/messages",
            json={"to": grace.user.number, "text": text},
            headers=sender.headers,
        )
        assert sent.status_code == 202, sent.text
        found: dict[str, Any] = sent.json()
        return found

    first = await send(ada, "Hello, we met at the conference.")
    second = await send(ada, "The slides are on my site.")
    assert first["held"] is second["held"] is True
    assert await worker.run_due() == 0  # nothing goes out before Grace says yes
    told = list(await db.scalars(select(Notification).where(Notification.user_id == grace.user.id)))
    assert [(n.kind, n.actor_id) for n in told] == [("message_request", ada.user.id)]

    [summary] = (await client.get("/api/v1/conversations", headers=grace.headers)).json()
    assert summary["request"] is True and summary["unread"] == 2
    hers = await conversation(client, grace, ada)
    assert hers["request"] is True
    assert [(e["mine"], e["held"]) for e in hers["entries"]] == [(False, True), (False, True)]
    assert (await conversation(client, ada, grace))["request"] is False

    accepted = await client.post(
        f"/api/v1/conversations/{ada.user.number}/accept", headers=grace.headers
    )
    assert accepted.status_code == 204, accepted.text
    assert await worker.run_due() == 4  # both messages, on Matrix and XMPP
    shown = await client.get(f"/api/v1/messages/{first['id']}", headers=ada.headers)
    assert shown.json()["held"] is False
    assert [c["status"] for c in shown.json()["copies"]] == ["sent", "sent"]
    assert (await send(ada, "Thanks!"))["held"] is False  # the next go straight on
    assert await worker.run_due() == 2

    # Linus is declined: his message never goes, he is not told, and Grace no longer sees it.
    held = await send(linus, "Buy my course")
    declined = await client.post(
        f"/api/v1/conversations/{linus.user.number}/decline", headers=grace.headers
    )
    assert declined.status_code == 204, declined.text
    assert await worker.run_due() == 0
    his = await client.get(f"/api/v1/messages/{held['id']}", headers=linus.headers)
    assert his.json()["held"] is True
    listed = (await client.get("/api/v1/conversations", headers=grace.headers)).json()
    assert [s["person"]["number"] for s in listed] == [ada.user.number]
    # No request left from him, nor ever from Ada or Grace herself: not found, alike.
    for number in (linus.user.number, ada.user.number, grace.user.number):
        again = await client.post(f"/api/v1/conversations/{number}/accept", headers=grace.headers)
        assert again.status_code == 404, again.text


async def _answer_on_matrix(
    http: httpx.AsyncClient, homeserver: MatrixHomeserver, who: Person, room: str, text: str
) -> None:
    answered = await http.put(
        f"{homeserver.base_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/"
        f"{abs(hash(text))}",
        headers=who.matrix.headers,
        json={"msgtype": "m.text", "body": text},
    )
    assert answered.status_code == 200, answered.text


async def test_one_answer_to_two_messages_in_one_room_is_one_and_a_reply_through_portal_none(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
) -> None:
    ada, grace = two
    worker = post_worker(app, sessionmaker)
    for text in ("One", "Two"):
        sent = await client.post(
            "/api/v1/messages",
            json={"to": grace.user.number, "text": text, "channels": ["matrix"]},
            headers=ada.headers,
        )
        assert sent.status_code == 202, sent.text
        assert await worker.run_due() == 1
    [room] = await Inbox(matrix_homeserver, http, grace.matrix).accept_invitations()
    await _answer_on_matrix(http, matrix_homeserver, grace, room, "Yes to both")
    # Grace also writes back through Portal: her message goes into the same room.
    back = await client.post(
        "/api/v1/messages",
        json={"to": ada.user.number, "text": "Sent from Portal", "channels": ["matrix"]},
        headers=grace.headers,
    )
    assert back.status_code == 202, back.text
    assert await worker.run_due() == 1
    await due_now(db, answers.READ)
    await worker.run_due()
    assert said(await conversation(client, ada, grace)) == [
        ("message", True, "One", ["matrix"]),
        ("message", True, "Two", ["matrix"]),
        ("answer", False, "Yes to both", ["matrix"]),
        ("message", False, "Sent from Portal", ["matrix"]),
    ]
    told = list(await db.scalars(select(Notification).where(Notification.user_id == ada.user.id)))
    assert [n.kind for n in told] == ["message_answered"]


async def test_a_copy_answered_on_its_own_network_is_not_taken_back(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Person, Person],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    ada, grace = two
    worker = post_worker(app, sessionmaker)
    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea at five?"},
        headers=ada.headers,
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    assert await worker.run_due() == 2
    # Grace answers on XMPP, then on Matrix; the Matrix answer is read first.
    async with online(xmpp_server, grace.jid, grace.password) as grace_xmpp:
        await grace_xmpp.say(ada.jid, "Yes, on XMPP")
    [room] = await Inbox(matrix_homeserver, http, grace.matrix).accept_invitations()
    await _answer_on_matrix(http, matrix_homeserver, grace, room, "Yes, on Matrix")
    copies = {
        copy.network: copy.id
        for copy in await db.scalars(
            select(MessageCopy).where(MessageCopy.message_id == message_id)
        )
    }
    await db.execute(
        update(Job)
        .where(Job.kind == answers.READ, Job.subject == str(copies["matrix"]))
        .values(run_at=utcnow())
    )
    await db.commit()
    await worker.run_due()  # the Matrix answer; the XMPP copy's withdrawal reads it first
    await worker.run_due()
    statuses = {
        copy.network: copy.status
        for copy in await db.scalars(
            select(MessageCopy)
            .where(MessageCopy.message_id == message_id)
            .execution_options(populate_existing=True)
        )
    }
    assert statuses == {"matrix": "sent", "xmpp": "sent"}
    assert [e["text"] for e in (await conversation(client, ada, grace))["entries"]] == [
        "Tea at five?",
        "Yes, on XMPP",
        "Yes, on Matrix",
    ]


async def test_someone_blocked_writes_as_anyone_and_is_gone_from_the_recipients_side(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
) -> None:
    ada = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Ada")
    grace = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Grace")
    linus = await messenger(db, app, http, matrix_homeserver, xmpp_server, "Linus")
    grace.user.messages_from = reach.MEMBERS
    await contacts.block(db, grace.user, linus.user)
    await db.commit()
    worker = post_worker(app, sessionmaker)

    async def send(sender: Person) -> httpx.Response:
        return await client.post(
            "/api/v1/messages",
            json={"to": grace.user.number, "text": "Hello"},
            headers=sender.headers,
        )

    # Linus, blocked, is answered as Ada, a stranger too, is: a request.
    held = [(await send(who)).json()["held"] for who in (ada, linus)]
    assert held == [True, True]
    # Grace blocks Ada after her request: it leaves Grace's side, and cannot be accepted.
    await contacts.block(db, grace.user, ada.user)
    await db.commit()
    assert (await client.get("/api/v1/conversations", headers=grace.headers)).json() == []
    accepted = await client.post(
        f"/api/v1/conversations/{ada.user.number}/accept", headers=grace.headers
    )
    assert accepted.status_code == 404, accepted.text
    # Grace takes messages from contacts only: blocked or not, a stranger is told so alike.
    grace.user.messages_from = reach.CONTACTS
    await db.commit()
    refused = [await send(who) for who in (ada, linus)]
    assert [r.status_code for r in refused] == [403, 403]
    assert refused[0].json()["detail"] == refused[1].json()["detail"]
    assert await worker.run_due() == 0
    # Unblocked, Linus writes again: his new request is told to Grace, though the one he
    # wrote while blocked is still held (and never shown).
    grace.user.messages_from = reach.MEMBERS
    await contacts.unblock(db, grace.user, linus.user)
    await db.commit()
    assert (await send(linus)).json()["held"] is True
    told = await db.scalars(
        select(Notification.actor_id).where(
            Notification.user_id == grace.user.id, Notification.kind == "message_request"
        )
    )
    assert list(told) == [ada.user.id, linus.user.id]
