"""The test IMAP server behaves as a real one, seen with Python's imaplib only."""

from __future__ import annotations

import asyncio
import email
import imaplib
import itertools
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

import pytest

from tests.fixtures.imap import IMAPServer

_numbers = itertools.count(1)


def mailbox(imap_server: IMAPServer, name: str) -> tuple[str, str]:
    """A new mailbox on the server: its address and password."""
    number = next(_numbers)
    password = f"correct horse {number}"
    return imap_server.add_user(f"{name}{number}", password), password


def reply(to: str, in_reply_to: str) -> tuple[str, bytes]:
    """A reply to one of our emails, as a mail client writes it: its Message-ID and bytes."""
    message = EmailMessage()
    message_id = make_msgid(domain="example.org")
    message["From"] = "Grace Hopper <grace@example.org>"
    message["To"] = to
    message["Subject"] = "Re: Lunch on Friday?"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    message["In-Reply-To"] = in_reply_to
    message["References"] = in_reply_to
    message.set_content("Friday suits me.\n")
    return message_id, message.as_bytes(policy=SMTP)


def find(imap_server: IMAPServer, address: str, password: str, message_id: str) -> list[Message]:
    """The messages of the INBOX with this Message-ID, read without marking them seen."""
    with imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10) as imap:
        imap.login(address, password)
        imap.select("INBOX", readonly=True)
        status, found = imap.search(None, "HEADER", "Message-ID", f'"{message_id}"')
        assert status == "OK", found
        messages = []
        for number in found[0].split():
            status, parts = imap.fetch(number, "(BODY.PEEK[])")
            assert status == "OK", parts
            body = parts[0]
            assert isinstance(body, tuple)
            messages.append(email.message_from_bytes(body[1]))
        return messages


async def test_a_reply_is_found_by_its_message_id_with_its_in_reply_to_intact(
    imap_server: IMAPServer,
) -> None:
    ada, password = mailbox(imap_server, "ada")
    bob, bob_password = mailbox(imap_server, "bob")
    ours = "<post-1.notice@portal.example>"
    _, other = reply(ada, "<something-else@portal.example>")
    message_id, message = reply(ada, ours)
    await imap_server.deliver(ada, other)
    await imap_server.deliver(ada, message)

    found = await asyncio.to_thread(find, imap_server, ada, password, message_id)

    assert len(found) == 1
    assert found[0]["Message-ID"] == message_id
    assert found[0]["In-Reply-To"] == ours
    assert found[0]["References"] == ours
    payload = found[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload == b"Friday suits me.\r\n"
    assert await asyncio.to_thread(find, imap_server, bob, bob_password, message_id) == []


async def test_a_wrong_password_is_refused(imap_server: IMAPServer) -> None:
    address, password = mailbox(imap_server, "grace")

    def login(secret: str) -> str:
        with imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10) as imap:
            status, _ = imap.login(address, secret)
            return status

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        await asyncio.to_thread(login, password + "!")
    assert await asyncio.to_thread(login, password) == "OK"
