"""Email as a messenger, from a person's own mailbox: sent on a real SMTP submission server
(aiosmtpd), kept and looked for in the Sent folder of a real IMAP server, and the answers
read in its INBOX (Dovecot)."""

from __future__ import annotations

import asyncio
import email
import imaplib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid

import httpx
import pytest

from connectors._addresses import AddressPolicy
from connectors._mailbox import MailboxSettings, MailServer, kept
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    Delivered,
    InvalidHandle,
    PermanentError,
    Retriable,
)
from connectors.email import NO_MAILBOX, Email, _arrival, _Folder, _sent_folder
from portal.net import guarded_client
from tests.fixtures.imap import IMAPServer
from tests.fixtures.live import closed_port
from tests.fixtures.smtp import Submission

LOCAL = Context(addresses=AddressPolicy(allow_loopback=True))
GRACE = "grace@example.org"
_numbers = itertools.count(1)


@dataclass
class Mailbox:
    """A person's mailbox on the test servers, and their address as Portal writes from it."""

    address: str
    password: str
    settings: MailboxSettings
    imap_server: IMAPServer

    def email(
        self, http: httpx.AsyncClient, *, password: str | None = None, **servers: MailServer
    ) -> Email:
        settings = MailboxSettings(
            servers.get("imap", self.settings.imap),
            servers.get("smtp", self.settings.smtp),
            self.settings.username,
        )
        credentials = Credentials(extra=kept(settings, password or self.password))
        return Email(self.address, credentials, http, context=LOCAL)

    def folder(self, name: str) -> list[tuple[str, Message]]:
        """Every email of a folder, with its flags, read without marking it seen."""
        with imaplib.IMAP4(self.imap_server.host, self.imap_server.port, timeout=10) as imap:
            imap.login(self.address, self.password)
            status, _ = imap.select(f'"{name}"', readonly=True)
            if status != "OK":
                return []
            _, found = imap.uid("SEARCH", "ALL")
            emails = []
            for uid in found[0].split():
                _, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                head, raw = parts[0]
                emails.append((head.decode(), email.message_from_bytes(raw, policy=policy.default)))
            return emails

    def folders(self) -> list[str]:
        with imaplib.IMAP4(self.imap_server.host, self.imap_server.port, timeout=10) as imap:
            imap.login(self.address, self.password)
            _, lines = imap.list()
            return [line.decode().rsplit(" ", 1)[1].strip('"') for line in lines]

    def create(self, name: str) -> None:
        with imaplib.IMAP4(self.imap_server.host, self.imap_server.port, timeout=10) as imap:
            imap.login(self.address, self.password)
            assert imap.create(f'"{name}"')[0] == "OK"

    def arrive(self, message: bytes, at: datetime) -> None:
        """Put an email into the INBOX as if it had arrived at ``at`` (its INTERNALDATE)."""
        with imaplib.IMAP4(self.imap_server.host, self.imap_server.port, timeout=10) as imap:
            imap.login(self.address, self.password)
            status, detail = imap.append("INBOX", None, at, message)
            assert status == "OK", detail


@pytest.fixture
def ada(imap_server: IMAPServer, submission_server: Submission) -> Mailbox:
    number = next(_numbers)
    password = f"correct horse {number}"
    address = imap_server.add_user(f"sender{number}", password)
    submission_server.add_user(address, password)
    settings = MailboxSettings(
        MailServer(imap_server.host, imap_server.port, "none"),
        MailServer(submission_server.host, submission_server.port, "none"),
        address,
    )
    return Mailbox(address, password, settings, imap_server)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_client(policy=LOCAL.addresses) as client:
        yield client


def _at_server(submission_server: Submission, message_id: str) -> list[EmailMessage]:
    """What the SMTP server took with this Message-ID, read as a mail client reads it."""
    return [
        email.message_from_bytes(message.as_bytes(), policy=policy.default)
        for message in submission_server.messages
        if message["Message-ID"] == message_id
    ]


# -- sending ---------------------------------------------------------------------------------


async def test_a_message_goes_from_the_mailbox_and_is_kept_in_its_sent_folder(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    text = "Tea at five? ☕\nI'll bring scones."

    delivered = await ada.email(http).send_message(GRACE, text, "copy-1")

    assert delivered.thread == delivered.id
    assert delivered.id.startswith("<") and delivered.id.endswith("@localhost>")
    [sent] = _at_server(submission_server, delivered.id)
    assert (sent["From"], sent["To"], sent["Subject"]) == (ada.address, GRACE, "Tea at five? ☕")
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content_charset() == "utf-8"
    assert sent.get_content() == text + "\n"
    # As a mail client keeps what it sends: in a Sent folder, made where there was none, read.
    assert "Sent" in ada.folders()
    [(flags, copy)] = await asyncio.to_thread(ada.folder, "Sent")
    assert copy["Message-ID"] == delivered.id
    assert "\\Seen" in flags
    assert copy.get_content().replace("\r\n", "\n") == text + "\n"


async def test_a_try_again_after_the_message_went_out_sends_nothing_more(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    first = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-2")
    again = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-2", again=True)

    assert again == first
    assert len(_at_server(submission_server, first.id)) == 1
    assert len(await asyncio.to_thread(ada.folder, "Sent")) == 1

    # A try again of one that never went out is sent, once.
    other = await ada.email(http).send_message(GRACE, "Or at six?", "copy-3", again=True)
    assert other.id != first.id
    assert len(_at_server(submission_server, other.id)) == 1
    assert len(await asyncio.to_thread(ada.folder, "Sent")) == 2


async def test_the_copy_goes_to_the_sent_folder_the_mailbox_has(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    ada.create("Sent Items")

    delivered = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-4")

    [(_, copy)] = await asyncio.to_thread(ada.folder, "Sent Items")
    assert copy["Message-ID"] == delivered.id
    assert "Sent" not in ada.folders()


def test_the_sent_folder_is_the_one_marked_so_before_any_named_so() -> None:
    """RFC 6154: a server names its Sent folder with ``\\Sent`` (Gmail's is "[Gmail]/Sent
    Mail"); without one, the folder is the one named as mail clients name it."""
    gmail = [
        _Folder("INBOX", frozenset({"\\hasnochildren"}), "/"),
        _Folder("Sent", frozenset({"\\hasnochildren"}), "/"),
        _Folder("[Gmail]/Sent Mail", frozenset({"\\hasnochildren", "\\sent"}), "/"),
    ]
    assert _sent_folder(gmail) == "[Gmail]/Sent Mail"
    courier = [
        _Folder("INBOX", frozenset(), "."),
        _Folder("INBOX.Drafts", frozenset(), "."),
        _Folder("INBOX.Sent Messages", frozenset(), "."),
    ]
    assert _sent_folder(courier) == "INBOX.Sent Messages"
    assert _sent_folder(courier[:2]) is None


# -- refusals --------------------------------------------------------------------------------


async def test_without_a_mailbox_an_address_says_to_connect_it(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    email = Email(ada.address, Credentials(), http, context=LOCAL)
    with pytest.raises(PermanentError, match="Connect your mailbox") as caught:
        await email.send_message(GRACE, "Tea?", "copy-5")
    assert caught.value.message == NO_MAILBOX
    with pytest.raises(PermanentError, match="Connect your mailbox"):
        await email.answers(GRACE, Delivered("<x@localhost>", "<x@localhost>"), datetime.now(UTC))


async def test_a_password_no_longer_taken_asks_to_connect_again(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    wrong = ada.email(http, password="an old password")
    with pytest.raises(AuthRevoked):
        await wrong.send_message(GRACE, "Tea?", "copy-6")
    with pytest.raises(AuthRevoked):
        await wrong.send_message(GRACE, "Tea?", "copy-6", again=True)  # IMAP, first
    with pytest.raises(AuthRevoked):
        await wrong.answers(GRACE, Delivered("<x@localhost>", "<x@localhost>"), datetime.now(UTC))
    assert [m for m in submission_server.messages if m["From"] == ada.address] == []


async def test_a_refused_recipient_is_said_and_not_tried_again(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    submission_server.refused.add("nobody@example.org")
    try:
        with pytest.raises(PermanentError) as caught:
            await ada.email(http).send_message("nobody@example.org", "Tea?", "copy-7")
    finally:  # the server is the whole session's
        submission_server.refused.discard("nobody@example.org")
    assert not isinstance(caught.value, Retriable)
    assert caught.value.message == (
        "The mail server refused the address nobody@example.org: 550 5.1.1 No such mailbox here"
    )
    assert await asyncio.to_thread(ada.folder, "Sent") == []


async def test_an_address_that_is_not_one_is_refused_before_anything_goes(
    ada: Mailbox, submission_server: Submission, http: httpx.AsyncClient
) -> None:
    before = len(submission_server.messages)
    with pytest.raises(InvalidHandle):
        await ada.email(http).send_message(f"{GRACE}\r\nBcc: all@example.org", "Tea?", "copy-12")
    assert len(submission_server.messages) == before


async def test_a_server_that_cannot_be_reached_is_tried_later(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    with closed_port() as port:
        closed = MailServer("127.0.0.1", port, "none")
        with pytest.raises(Retriable, match="SMTP server cannot be reached"):
            await ada.email(http, smtp=closed).send_message(GRACE, "Tea?", "copy-8")
        with pytest.raises(Retriable, match="IMAP server cannot be reached"):
            await ada.email(http, imap=closed).send_message(GRACE, "Tea?", "copy-8", again=True)
    assert await asyncio.to_thread(ada.folder, "Sent") == []


# -- answers ---------------------------------------------------------------------------------


def _reply(
    sender: str,
    to: str,
    text: str,
    *,
    in_reply_to: str = "",
    references: str = "",
    written: datetime | None = None,
    html: str = "",
) -> tuple[str, bytes]:
    message = EmailMessage()
    message_id = make_msgid(domain="example.org")
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: Tea at five?"
    message["Date"] = format_datetime(written or datetime.now(UTC))
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    if html:
        message.set_content(html, subtype="html")
    else:
        message.set_content(text)
    return message_id, message.as_bytes(policy=policy.SMTP)


def _flags(mailbox: Mailbox) -> list[str]:
    return [flags for flags, _ in mailbox.folder("INBOX")]


async def test_the_answers_are_the_recipients_replies_without_what_they_quote(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    delivered = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-9")
    ours = delivered.id
    since = datetime.now(UTC) - timedelta(seconds=2)
    at = since.replace(microsecond=0) + timedelta(seconds=1)
    first, reply = _reply(
        f"Grace Hopper <{GRACE}>",
        ada.address,
        f"Friday suits me.\n\nOn Mon, 7 Dec 2026 at 17:00, {ada.address} wrote:\n> Tea at five?\n",
        in_reply_to=ours,
        written=at,
    )
    unrelated = _reply(GRACE, ada.address, "Did you see the news?", written=at)[1]
    someone_else = _reply("bob@example.org", ada.address, "Me too!", in_reply_to=ours)[1]
    html = (
        "<div>See you <b>there</b>.</div><div class=gmail_quote>On Mon, Ada wrote:<br>"
        "<blockquote>Tea at five?</blockquote></div>"
    )
    second, html_only = _reply(
        GRACE,
        ada.address,
        "",
        references=f"<older@example.org> {ours}",
        written=at + timedelta(seconds=1),
        html=html,
    )
    for message in (reply, unrelated, someone_else, html_only):
        await ada.imap_server.deliver(ada.address, message)

    answers = await ada.email(http).answers(GRACE, delivered, since)

    assert [(a.id, a.text, a.written_at) for a in answers] == [
        (first, "Friday suits me.", at),
        (second, "See you there.", at + timedelta(seconds=1)),
    ]
    assert [a.url for a in answers] == [None, None]
    # Read, and still unread for the person: nothing in the INBOX is marked seen.
    flags = await asyncio.to_thread(_flags, ada)
    assert len(flags) == 4
    assert not any("\\Seen" in f for f in flags)


async def test_answers_since_a_time_are_those_that_arrived_after_it(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    delivered = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-10")
    since = datetime.now(UTC).replace(microsecond=0)
    earlier = since - timedelta(hours=2)  # the same day for IMAP's SEARCH SINCE, or the day before
    _, old = _reply(GRACE, ada.address, "Yes.", in_reply_to=delivered.id, written=earlier)
    new_id, new = _reply(GRACE, ada.address, "Still yes.", in_reply_to=delivered.id)
    await asyncio.to_thread(ada.arrive, old, earlier)
    await asyncio.to_thread(ada.arrive, new, since + timedelta(seconds=1))

    answers = await ada.email(http).answers(GRACE, delivered, since)

    assert [(a.id, a.text) for a in answers] == [(new_id, "Still yes.")]


async def test_an_answer_in_the_second_the_message_went_out_is_one(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    """IMAP keeps an email's arrival to the second: an answer that came in the very second the
    message was recorded as sent, after it, is not passed over."""
    delivered = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-13")
    sent_at = datetime.now(UTC).replace(microsecond=900_000)
    answer_id, answer = _reply(GRACE, ada.address, "Yes.", in_reply_to=delivered.id)
    await asyncio.to_thread(ada.arrive, answer, sent_at)  # its INTERNALDATE: that second

    answers = await ada.email(http).answers(GRACE, delivered, sent_at)

    assert [(a.id, a.text) for a in answers] == [(answer_id, "Yes.")]


def test_an_arrival_behind_utc_by_less_than_an_hour_is_counted_behind() -> None:
    """An INTERNALDATE of ``-0030`` is half an hour behind UTC, not ahead of it: an answer
    that came just after the message is not taken for one written before it."""
    meta = b'7 (UID 7 INTERNALDATE "07-Dec-2026 10:00:05 -0030" BODY[]<0> {120}'

    assert _arrival(meta) == datetime(2026, 12, 7, 10, 30, 5, tzinfo=UTC)


async def test_mail_that_cannot_be_read_is_passed_over(
    ada: Mailbox, http: httpx.AsyncClient
) -> None:
    delivered = await ada.email(http).send_message(GRACE, "Tea at five?", "copy-11")
    since = datetime.now(UTC) - timedelta(seconds=2)
    head = (
        f"From: {GRACE}\r\nTo: {ada.address}\r\nSubject: Re: Tea\r\nIn-Reply-To: {delivered.id}\r\n"
    ).encode()
    broken = head + (
        b"Message-ID: <broken@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/alternative\r\n\r\nno boundary, no part\r\n"
    )
    unknown_charset = head + (
        b"Message-ID: <charset@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nS\xc3\xac, alle cinque.\r\n"
    )
    attachment = b"x" * (2 * 1024 * 1024)
    large = EmailMessage()
    large["From"], large["To"], large["Subject"] = GRACE, ada.address, "Re: Tea"
    large["Message-ID"], large["In-Reply-To"] = "<large@example.org>", delivered.id
    large.set_content("Here is the photo.")
    large.add_attachment(attachment, maintype="image", subtype="jpeg", filename="tea.jpg")
    for message in (broken, unknown_charset, large.as_bytes(policy=policy.SMTP)):
        await ada.imap_server.deliver(ada.address, message)

    answers = await ada.email(http).answers(GRACE, delivered, since)

    assert sorted((a.id, a.text) for a in answers) == [
        ("<charset@example.org>", "Sì, alle cinque."),
        ("<large@example.org>", "Here is the photo."),
    ]
