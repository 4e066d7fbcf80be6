"""Email: an address, proven by a one-time code sent to it; with its mailbox connected, a
messenger Portal writes on from that address and reads the answers of.

Why it looks like this:

- The address is checked for syntax only (RFC 5321/5322 as email-validator reads them, with
  internationalised domains IDNA-encoded); proof is a code the portal mails and the person
  types back. Links are ``mailto:`` URIs (RFC 6068).
- Writing takes the person's own mailbox, connected as a mail client is
  (:mod:`connectors._mailbox`: IMAP and SMTP settings and the password, kept in the
  account's credentials, which hold nothing else). ``CAN_MESSAGE`` says what an address can
  do *with* its mailbox: one without is not offered as a way to write (the portal offers an
  account with credentials only), and :meth:`Email.send_message` says to connect it.
- A message is one plain-text email (:mod:`connectors._emails`) submitted on the mailbox's
  SMTP server (RFC 6409) from the address to the recipient, then kept in the mailbox's Sent
  folder as mail clients keep what they send (IMAP APPEND, RFC 3501 §6.3.11): the folder
  marked ``\\Sent`` (RFC 6154), else one named as clients name it, else a new ``Sent``.
- Exactly once: SMTP takes no idempotency key, and a server takes the same message twice.
  The ``Message-ID`` is derived from the copy's key, and a try ``again`` first searches the
  Sent folder for it (``SEARCH HEADER Message-ID``, RFC 3501 §6.4.4): found, it went out
  and is not sent twice. A server that keeps its own copy of what it sends (Gmail,
  Outlook.com) is given none more, as the folder is searched before the copy is added.
  What this cannot tell is a try cut between the server taking the message and the copy
  being kept (the answer to DATA lost, the portal stopped right there): that message goes
  again, with the same ``Message-ID``, which many mail clients show once.
- Answers are read in the INBOX, opened read-only (EXAMINE) and fetched with ``BODY.PEEK``,
  so that nothing is marked read and the person's mail stays as they left it: mail from the
  recipient whose ``In-Reply-To`` or ``References`` names the message, the newest hundred,
  each fetched up to :data:`FETCH_LIMIT` bytes (its text comes first; an attachment after it
  is cut off unread). IMAP's ``SINCE`` counts whole days, so ``since`` is compared with
  each email's arrival at the server (INTERNALDATE) once fetched.
- imaplib blocks, so all the IMAP work of one call, the reading of the mail included, runs
  in a worker thread (:func:`connectors._mailbox.on_imap`).
"""

from __future__ import annotations

import asyncio
import functools
import imaplib
import logging
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from connectors._emails import compose, message_id, read_answer
from connectors._mailbox import MailboxFailure, MailboxSettings, on_imap, submit, unkept
from connectors.base import (
    MAX_ANSWERS,
    PUBLIC,
    Answer,
    AuthRevoked,
    Connector,
    ConnectorError,
    Context,
    Delivered,
    InvalidHandle,
    PermanentError,
    Retriable,
    Upload,
    clean,
    url_quote,
)

__all__ = ["Email"]

log = logging.getLogger(__name__)

NO_MAILBOX = "Connect your mailbox to send email from Portal."
FETCH_LIMIT = 256 * 1024
"""The most of one email fetched, in bytes."""
_FETCH_BATCH = 20
_SENT_NAMES = ("sent", "sent items", "sent messages", "sent mail")
"""How mail clients name a Sent folder that is not marked as one, in their order."""


class Email(Connector):
    NAME = "email"
    MESSENGER = True
    CAN_MESSAGE = True
    CAN_READ_ANSWERS = True
    LABEL = "Email"
    AUTH = "code"
    HANDLE_LABEL = "Email address"
    HANDLE_EXAMPLE = "ada@example.org"

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=254).removeprefix("mailto:")
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as error:
            raise InvalidHandle(f"This is not an email address: {error}") from error
        # The local part may be case-sensitive (RFC 5321 §2.4); the domain is not.
        domain = checked.ascii_domain.lower()
        return f"{checked.local_part}@{domain}"

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        return "mailto:" + url_quote(handle)

    FILLS_IN_TEXT = True

    @classmethod
    def message_link(cls, handle: str, text: str) -> str | None:
        """A ``mailto:`` address with the text as the body (RFC 6068: percent-encoded, line
        breaks as CRLF)."""
        body = quote(text.replace("\r\n", "\n").replace("\n", "\r\n"), safe="")
        return f"mailto:{url_quote(handle)}?body={body}"

    def _mailbox(self) -> tuple[MailboxSettings, str]:
        found = unkept(self.credentials.extra)
        if found is None:
            raise PermanentError(NO_MAILBOX)
        return found

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """An email from the address to ``to``, its ``Message-ID`` derived from ``key``, with
        ``picture`` attached inline; ``again``, the Sent folder is searched for it first.
        Both the id and where its answers come (:attr:`Delivered.thread`) are that
        ``Message-ID``."""
        settings, password = self._mailbox()
        to = self.normalize_handle(to, context=self.context)
        found = message_id(key or secrets.token_hex(16), self.handle)
        try:
            if again and await on_imap(
                settings, password, functools.partial(_has_sent, found), context=self.context
            ):
                return Delivered(found, thread=found)
            # The MIME build and the picture's base64 are work for a thread, not the event loop.
            raw = await asyncio.to_thread(
                compose, self.handle, to, text, found, datetime.now(UTC), picture
            )
            await submit(settings, password, self.handle, to, raw, context=self.context)
        except MailboxFailure as failure:
            raise _refusal(failure) from failure
        try:
            await on_imap(
                settings, password, functools.partial(_keep_sent, found, raw), context=self.context
            )
        except ConnectorError as error:  # it went out all the same
            log.info("email %s sent, but not kept in the Sent folder: %s", found, error)
        return Delivered(found, thread=found)

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[Answer]:
        """The answers from ``to`` in the INBOX to the email ``delivered``, by arrival."""
        settings, password = self._mailbox()
        thread = delivered.thread or delivered.id
        if not _quotable(thread):  # not an email's Message-ID: nothing answers it
            return []
        # An email's arrival (INTERNALDATE) and its Date count whole seconds: one that came
        # in the very second of ``since`` is compared at that second, not found earlier.
        since = since.replace(microsecond=0)
        read = functools.partial(_answers, to, thread, since)
        try:
            return await on_imap(settings, password, read, context=self.context)
        except MailboxFailure as failure:
            raise _refusal(failure) from failure


def _refusal(failure: MailboxFailure) -> ConnectorError:
    """A mailbox's refusal as the portal acts on it: a password no longer taken is to be
    connected again, a server that cannot be reached tried later, anything else is said."""
    server = failure.protocol.upper()
    if failure.kind == "login":
        return AuthRevoked(
            f"Your mailbox's {server} server no longer takes its password: connect it again."
        )
    if failure.kind == "unreachable":
        return Retriable(f"Your mailbox's {server} server cannot be reached: {failure.message}")
    return PermanentError(
        f"Your mailbox's {server} server cannot be used ({failure.message}): check the "
        "mailbox's settings."
    )


# -- the Sent folder (blocking: run by on_imap in a worker thread) --------------------------


@dataclass(frozen=True, slots=True)
class _Folder:
    name: str
    flags: frozenset[str]
    delimiter: str


_LIST = re.compile(rb'\((?P<flags>[^)]*)\) (?P<delimiter>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)')


def _folders(imap: imaplib.IMAP4) -> list[_Folder]:
    """The mailbox's folders that can be opened, as LIST names them (RFC 3501 §7.2.2)."""
    status, lines = imap.list()
    found: list[_Folder] = []
    for line in lines if status == "OK" else []:
        head, literal = (line[0], line[1]) if isinstance(line, tuple) else (line, None)
        match = _LIST.fullmatch(head) if isinstance(head, bytes) else None
        if match is None:
            continue
        name = _unquoted(literal if isinstance(literal, bytes) else match["name"])
        flags = frozenset(match["flags"].decode("ascii", "replace").lower().split())
        if name is None or flags & {"\\noselect", "\\nonexistent"}:
            continue
        delimiter = _unquoted(match["delimiter"]) or ""
        found.append(_Folder(name, flags, delimiter if match["delimiter"] != b"NIL" else ""))
    return found


def _unquoted(value: bytes) -> str | None:
    """An IMAP astring's text, quoted or an atom; ``None`` for one not in ASCII (servers
    send names in modified UTF-7, which is)."""
    if value.startswith(b'"') and value.endswith(b'"') and len(value) >= 2:
        value = re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value.decode("ascii") if value.isascii() else None


def _quotable(value: str) -> bool:
    """Whether ``value`` can be an IMAP quoted string (RFC 3501 §4.3)."""
    return value.isascii() and not any(c in value for c in "\r\n\0")


def _quoted(value: str) -> str:
    """A :func:`_quotable` ``value`` as an IMAP quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sent_folder(folders: Sequence[_Folder]) -> str | None:
    """The folder marked ``\\Sent``, else the first named as mail clients name one."""
    for folder in folders:
        if "\\sent" in folder.flags:
            return folder.name
    by_name = {
        (
            folder.name.rsplit(folder.delimiter, 1)[-1] if folder.delimiter else folder.name
        ).casefold(): folder.name
        for folder in folders
    }
    return next((by_name[name] for name in _SENT_NAMES if name in by_name), None)


def _has_copy(imap: imaplib.IMAP4, folder: str, found: str) -> bool:
    """Whether ``folder`` holds an email with the ``Message-ID`` ``found``."""
    status, _ = imap.select(_quoted(folder), readonly=True)
    if status != "OK":
        return False
    status, data = imap.uid("SEARCH", "HEADER", "Message-ID", _quoted(found))
    if status != "OK":
        raise MailboxFailure("protocol", "imap", f"the Sent folder cannot be searched: {data}")
    return any(part.split() for part in data if isinstance(part, bytes))


def _has_sent(found: str, imap: imaplib.IMAP4) -> bool:
    folder = _sent_folder(_folders(imap))
    return folder is not None and _has_copy(imap, folder, found)


def _keep_sent(found: str, raw: bytes, imap: imaplib.IMAP4) -> None:
    """Keep a copy of a sent email in the Sent folder, read, unless one is there."""
    folders = _folders(imap)
    folder = _sent_folder(folders) or _new_sent_folder(imap, folders)
    if folder is None:
        raise MailboxFailure("protocol", "imap", "there is no Sent folder, nor can one be made")
    if _has_copy(imap, folder, found):
        return
    status, data = imap.append(_quoted(folder), "(\\Seen)", None, raw)
    if status != "OK":
        raise MailboxFailure("protocol", "imap", f"the Sent folder refused the copy: {data}")


def _new_sent_folder(imap: imaplib.IMAP4, folders: Sequence[_Folder]) -> str | None:
    """A ``Sent`` folder made, at the top or, where only INBOX has folders, in it."""
    inbox = next((f for f in folders if f.name.upper() == "INBOX"), None)
    names = ["Sent"] + ([f"INBOX{inbox.delimiter}Sent"] if inbox and inbox.delimiter else [])
    marked = "CREATE-SPECIAL-USE" in imap.capabilities
    for name in names:
        quoted = _quoted(name)
        status, _ = imap.create(f"{quoted} (USE (\\Sent))" if marked else quoted)
        if status == "OK":
            imap.subscribe(quoted)
            return name
    return None


# -- answers (blocking: run by on_imap in a worker thread) ----------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _answers(to: str, thread: str, since: datetime, imap: imaplib.IMAP4) -> list[Answer]:
    status, data = imap.select("INBOX", readonly=True)
    if status != "OK":
        raise MailboxFailure("protocol", "imap", f"the INBOX cannot be opened: {data}")
    quoted = _quoted(thread)
    criteria = ["SINCE", _day(since - timedelta(days=1))]
    if _quotable(to):  # else compared once read
        criteria += ["FROM", _quoted(to)]
    criteria += ["OR", "HEADER", "In-Reply-To", quoted, "HEADER", "References", quoted]
    status, data = imap.uid("SEARCH", *criteria)
    if status != "OK":
        raise MailboxFailure("protocol", "imap", f"the INBOX cannot be searched: {data}")
    uids = sorted(
        {int(n) for part in data if isinstance(part, bytes) for n in part.split() if n.isdigit()}
    )[-MAX_ANSWERS:]
    found: dict[str, Answer] = {}
    for start in range(0, len(uids), _FETCH_BATCH):
        batch = ",".join(str(uid) for uid in uids[start : start + _FETCH_BATCH])
        status, data = imap.uid("FETCH", batch, f"(INTERNALDATE BODY.PEEK[]<0.{FETCH_LIMIT}>)")
        if status != "OK":
            raise MailboxFailure("protocol", "imap", f"the INBOX cannot be read: {data}")
        for arrived, raw in _fetched(data):
            answer = read_answer(raw, to, thread, arrived)
            if answer is not None and (arrived or answer.written_at) >= since:
                found.setdefault(answer.id, answer)
    return sorted(found.values(), key=lambda answer: (answer.written_at, answer.id))[-MAX_ANSWERS:]


def _day(moment: datetime) -> str:
    """A day as IMAP's SEARCH writes it (RFC 3501 §9, ``date``): ``7-Dec-2026``."""
    day: date = moment.astimezone(UTC).date()
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def _fetched(data: Sequence[object]) -> Iterator[tuple[datetime | None, bytes]]:
    """The emails of a FETCH answer as imaplib gives them, each with its arrival: a literal
    comes as a pair (what precedes it, its bytes), and what follows it comes next."""
    for index, item in enumerate(data):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes)):
            continue
        meta = item[0] if isinstance(item[0], bytes) else b""
        after = data[index + 1] if index + 1 < len(data) else b""
        if isinstance(after, bytes):
            meta += after
        yield _arrival(meta), item[1]


def _arrival(meta: bytes) -> datetime | None:
    """An email's arrival from what precedes it in a FETCH answer: its INTERNALDATE."""
    try:
        moment = imaplib.Internaldate2tuple(meta)
        return None if moment is None else datetime.fromtimestamp(time.mktime(moment), UTC)
    except (ValueError, OverflowError):
        return None
