"""Sending email, configured by one URL (``PORTAL_SMTP_URL``).

``smtp://user:password@host:587`` uses STARTTLS (required), ``smtps://…:465`` implicit TLS, and
``smtp+plain://host:25`` no encryption at all, for a relay on the same trusted host or network.
With no URL (the embedded default), :func:`deliver` writes the message to the log and keeps the
last ones in memory, as the console SMS sender does: a developer can follow the links in it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

log = logging.getLogger(__name__)

KEPT_MESSAGES = 50


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str


console_outbox: deque[Letter] = deque(maxlen=KEPT_MESSAGES)
"""The last messages written to the log for want of a mail server."""


class MailError(Exception):
    """The message could not be handed to the mail server."""


@dataclass(frozen=True)
class SMTPConfig:
    host: str
    port: int
    username: str
    password: str
    tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SMTPConfig:
        parts = urlsplit(url)
        defaults = {"smtp": 587, "smtps": 465, "smtp+plain": 25}
        if parts.scheme not in defaults or not parts.hostname:
            raise ValueError("PORTAL_SMTP_URL must look like smtp://user:password@host:587")
        return cls(
            host=parts.hostname,
            port=parts.port or defaults[parts.scheme],
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            tls=parts.scheme == "smtps",
            starttls=parts.scheme == "smtp",
        )


async def send(url: str, *, sender: str, to: str, subject: str, text: str) -> None:
    config = SMTPConfig.from_url(url)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message.set_content(text)
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username or None,
            password=config.password or None,
            use_tls=config.tls,
            start_tls=config.starttls,
            timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as error:
        raise MailError(str(error)) from error


async def deliver(url: str, *, sender: str, to: str, subject: str, text: str) -> None:
    """Send through ``url``; with no URL, write the message to the log instead."""
    if url:
        await send(url, sender=sender, to=to, subject=subject, text=text)
        return
    console_outbox.append(Letter(to, subject, text))
    log.warning("email for %s: %s\n%s", to, subject, text)
