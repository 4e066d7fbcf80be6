"""Answers by email come back into one conversation, against the real servers the fixtures
start: Ada writes to Grace from her own mailbox (connected through the API to a Dovecot and
an SMTP submission server), Grace answers from her mail client, and the answer shows in
Ada's conversation while Ada's mail stays as she left it; a mailbox whose server is down
hands a message for the first messenger that delivers over to the next."""

from __future__ import annotations

import asyncio
import email
import imaplib
import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.domain import account, jobs, linking
from portal.domain.linking import proofs
from portal.domain.messages import answers
from portal.storage.models import LinkedAccount, Notification, User
from tests.fixtures import messaging
from tests.fixtures.imap import IMAPServer
from tests.fixtures.publishing import due_now, post_worker
from tests.fixtures.smtp import Submission, submission
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

settings = messaging.settings  # the portal reaches Prosody too, for another messenger

_numbers = itertools.count(1)


@dataclass
class Writer:
    """Someone on Portal with an API token and a proven email address."""

    user: User
    headers: dict[str, str]
    address: str
    account: LinkedAccount
    password: str = ""
    """Of the address's mailbox on the test servers, where it has one."""


async def _writer(db: AsyncSession, name: str, address: str, password: str = "") -> Writer:
    user = await people.person(db, name)
    token = (await account.create_token(db, user, name="tests")).secret
    linked = await people.account(db, user, "email", address)
    linking.mark_verified(linked, "code")  # the code itself is tested elsewhere
    await db.commit()
    return Writer(user, {"authorization": f"Bearer {token}"}, address, linked, password)


def _mailbox_body(imap_server: IMAPServer, smtp: Submission, writer: Writer) -> dict[str, Any]:
    return {
        "imap": {"host": imap_server.host, "port": imap_server.port, "security": "none"},
        "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
        "username": writer.address,
        "password": writer.password,
    }


async def _connect_mailbox(
    client: httpx.AsyncClient, imap_server: IMAPServer, smtp: Submission, writer: Writer
) -> None:
    """The writer connects their mailbox as anyone does, through the API."""
    connected = await client.put(
        f"/api/v1/me/accounts/{writer.account.id}/mailbox",
        json=_mailbox_body(imap_server, smtp, writer),
        headers=writer.headers,
    )
    assert connected.status_code == 200, connected.text
    assert connected.json()["mailbox"] is True


async def _offer(client: httpx.AsyncClient, who: Writer, *account_ids: int) -> None:
    """``who`` is messaged on these accounts of theirs, in this order."""
    put = await client.put(
        "/api/v1/me/reach", json={"channels": list(account_ids)}, headers=who.headers
    )
    assert put.status_code == 200, put.text
    assert [c["account_id"] for c in put.json()["channels"] if c["on"]] == list(account_ids)


@pytest.fixture
async def two(
    db: AsyncSession,
    client: httpx.AsyncClient,
    imap_server: IMAPServer,
    submission_server: Submission,
) -> tuple[Writer, Writer]:
    """Ada, her mailbox connected; Grace, her address offered to write to; contacts."""
    number = next(_numbers)
    password = f"correct horse {number}"
    address = imap_server.add_user(f"conversation{number}", password)
    submission_server.add_user(address, password)
    ada = await _writer(db, "Ada", address, password)
    grace = await _writer(db, "Grace", f"grace{number}@example.org")
    await people.befriend(db, ada.user, grace.user)
    await db.commit()
    await _connect_mailbox(client, imap_server, submission_server, ada)
    await _offer(client, grace, grace.account.id)
    return ada, grace


def _folder(imap_server: IMAPServer, who: Writer, name: str) -> list[tuple[str, EmailMessage]]:
    """Every email of one of ``who``'s folders, with its flags, read without marking it seen."""
    with imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10) as imap:
        imap.login(who.address, who.password)
        status, _ = imap.select(f'"{name}"', readonly=True)
        if status != "OK":
            return []
        _, found = imap.uid("SEARCH", "ALL")
        emails: list[tuple[str, EmailMessage]] = []
        for uid in found[0].split():
            _, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            head, raw = parts[0]
            kept = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(kept, EmailMessage)
            emails.append((head.decode(), kept))
        return emails


def _reply(grace: Writer, ada: Writer, in_reply_to: str, text: str, written: datetime) -> bytes:
    """Grace's answer as her mail client writes it: the message quoted under it."""
    message = EmailMessage()
    message["From"] = f"Grace Hopper <{grace.address}>"
    message["To"] = ada.address
    message["Subject"] = "Re: Tea at five?"
    message["Date"] = format_datetime(written)
    message["Message-ID"] = make_msgid(domain="example.org")
    message["In-Reply-To"] = message["References"] = in_reply_to
    message.set_content(text)
    return message.as_bytes(policy=policy.SMTP)


async def test_an_answer_by_email_comes_back_and_the_mail_stays_unread(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Writer, Writer],
    imap_server: IMAPServer,
    submission_server: Submission,
) -> None:
    ada, grace = two
    worker: jobs.Worker = post_worker(app, sessionmaker)
    text = "Tea at five?\nI'll bring scones."
    sent = await client.post(
        "/api/v1/messages", json={"to": grace.user.number, "text": text}, headers=ada.headers
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    assert await worker.run_due() == 1

    shown = await client.get(f"/api/v1/messages/{message_id}", headers=ada.headers)
    assert [(c["network"], c["status"]) for c in shown.json()["copies"]] == [("email", "sent")]
    # It went out on Ada's SMTP server, from her address, with a Message-ID of its own…
    [out] = [m for m in submission_server.messages if m["To"] == grace.address]
    assert out["From"] == ada.address
    assert out["Subject"] == "Tea at five?"
    body = out.get_payload(decode=True)
    assert isinstance(body, bytes) and body.decode().replace("\r\n", "\n") == text + "\n"
    its_id = out["Message-ID"]
    assert its_id and its_id.startswith("<") and its_id.endswith("@localhost>")
    # …and sits, read, in her Sent folder, as her mail client would have kept it.
    [(flags, kept)] = await asyncio.to_thread(_folder, imap_server, ada, "Sent")
    assert kept["Message-ID"] == its_id and "\\Seen" in flags

    # Nothing answered yet: a read finds nothing, and nobody is told.
    await due_now(db, answers.READ)
    assert await worker.run_due() == 1
    assert messaging.said(await messaging.conversation(client, ada, grace)) == [
        ("message", True, text, ["email"])
    ]

    # Grace answers from her mail client, quoting the message; it lands in Ada's INBOX.
    answer = (
        "Yes! At the usual place.\n\n"
        f"On Mon, 7 Dec 2026 at 17:00, {ada.address} wrote:\n"
        "> Tea at five?\n> I'll bring scones.\n"
    )
    # Her computer's clock is a minute slow: the answer still comes after the message.
    slow = datetime.now(UTC) - timedelta(minutes=1)
    await imap_server.deliver(ada.address, _reply(grace, ada, its_id, answer, slow))

    await due_now(db, answers.READ)
    assert await worker.run_due() == 1
    mine = await messaging.conversation(client, ada, grace)
    assert messaging.said(mine) == [
        ("message", True, text, ["email"]),
        ("answer", False, "Yes! At the usual place.", ["email"]),
    ]
    assert mine["entries"][1]["unread"] is True

    # Ada is told, once; reading again adds nothing.
    told = list(await db.scalars(select(Notification).where(Notification.user_id == ada.user.id)))
    assert [(n.kind, n.actor_id) for n in told] == [("message_answered", grace.user.id)]
    await due_now(db, answers.READ)
    assert await worker.run_due() == 1
    assert len(messaging.said(await messaging.conversation(client, ada, grace))) == 2
    assert (
        await db.scalar(
            select(Notification.id).where(Notification.user_id == ada.user.id).offset(1)
        )
        is None
    )

    # Portal read Grace's answer, Ada has not: her mail is as she left it.
    [(flags, arrived)] = await asyncio.to_thread(_folder, imap_server, ada, "INBOX")
    assert arrived["In-Reply-To"] == its_id
    assert "\\Seen" not in flags


async def test_a_mailbox_whose_server_is_down_hands_over_to_the_next_messenger(
    client: httpx.AsyncClient,
    db: AsyncSession,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    two: tuple[Writer, Writer],
    imap_server: IMAPServer,
    xmpp_server: XMPPServer,
) -> None:
    ada, grace = two
    # Ada's mailbox now submits on a server that took her login, and has since gone away.
    with submission() as gone:
        gone.add_user(ada.address, ada.password)
        await _connect_mailbox(client, imap_server, gone, ada)
    # Both also have XMPP, which Grace offers after email.
    on_xmpp = []
    for who in (ada, grace):
        password = f"correct horse {who.user.display_name}"
        jid = xmpp_server.register(
            f"{who.user.display_name.lower()}-{secrets.token_hex(4)}", password
        )
        on_xmpp.append(
            await proofs.link_by_sign_in(db, app.state.links, who.user, "xmpp", jid, password)
        )
    await db.commit()
    await _offer(client, grace, grace.account.id, on_xmpp[1].id)
    worker = post_worker(app, sessionmaker)

    sent = await client.post(
        "/api/v1/messages",
        json={"to": grace.user.number, "text": "Tea at five?", "mode": "first"},
        headers=ada.headers,
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    assert await worker.run_due() == 2  # email, which cannot go, then XMPP at once

    shown = await client.get(f"/api/v1/messages/{message_id}", headers=ada.headers)
    copies = shown.json()["copies"]
    assert [(c["network"], c["status"]) for c in copies] == [("email", "failed"), ("xmpp", "sent")]
    assert copies[0]["error"].startswith("Your mailbox's SMTP server cannot be reached")
    assert await asyncio.to_thread(_folder, imap_server, ada, "Sent") == []
    # The address is still fine: a server down is no password refused.
    await db.refresh(ada.account)
    assert ada.account.status == linking.VERIFIED
