"""A person's own mailbox: IMAP to read the answers, SMTP submission to send from it.

Here are the connections to it: the login checked when it is connected, a message submitted
(:func:`submit`), and work done on its IMAP server, logged in (:func:`on_imap`).

Why it looks like this:

- An email address is proven by a code (:mod:`connectors.email`); to send *from* it and read
  the answers *in* it, the portal needs the person's mailbox, with their login name and
  password, like any mail client. Those are kept encrypted with the account's credentials.
- The settings are looked up as Thunderbird does (:mod:`connectors._autoconfig`).
- Encryption is TLS from the first byte (IMAP 993, submission 465: RFC 8314 prefers it) or
  STARTTLS (IMAP 143, RFC 3501 §6.2.1; submission 587, RFC 6409 and RFC 3207); a connection
  without either carries the password in clear and is allowed only to servers on the
  portal's own machine, where a development portal allows those at all.
- People name the hosts, so every connection is made as :mod:`connectors._addresses` says:
  the name resolved once, every address checked, the connection made to a checked address,
  and the name kept for TLS (SNI and the certificate check). imaplib blocks, so IMAP runs in
  a worker thread; SMTP uses aiosmtplib on the event loop, handed the connected socket.
- A failure says which server and what a person can change: the password, the host or
  port, the encryption. :class:`MailboxFailure` carries that as a ``kind`` the portal puts
  into words of the reader's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiosmtplib

from connectors._addresses import AddressPolicy, Refused, Unreachable, is_loopback, literal
from connectors.base import (
    Context,
    InvalidHandle,
    PermanentError,
    Retriable,
    clean,
    normalize_host,
)

__all__ = [
    "MailServer",
    "MailboxFailure",
    "MailboxSettings",
    "check_login",
    "kept",
    "on_imap",
    "submit",
    "unkept",
]

T = TypeVar("T")

Security = Literal["tls", "starttls", "none"]
SECURITIES: tuple[Security, ...] = ("tls", "starttls", "none")
Protocol = Literal["imap", "smtp"]
FailureKind = Literal[
    "login", "unreachable", "tls", "plaintext", "private", "insecure", "protocol", "invalid"
]

TIMEOUT = 15.0
"""The longest one server may take to greet, encrypt and answer the login."""
MAX_USERNAME = 320

_PORTS: dict[Protocol, dict[Security, int]] = {
    "imap": {"tls": 993, "starttls": 143, "none": 143},
    "smtp": {"tls": 465, "starttls": 587, "none": 587},
}


class MailboxFailure(PermanentError):
    """One server refused, or could not be used: ``kind`` says what to change, ``protocol``
    which server, ``field`` the form's field it is about."""

    def __init__(
        self, kind: FailureKind, protocol: Protocol, message: str, *, field: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.protocol = protocol
        self.field = field or {
            "login": "password",
            "unreachable": f"{protocol}_host",
            "private": f"{protocol}_host",
            "protocol": f"{protocol}_port",
        }.get(kind, f"{protocol}_security")


@dataclass(frozen=True, slots=True)
class MailServer:
    host: str
    port: int
    security: Security

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "security": self.security}


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """Where a mailbox is, and the name it logs in with (the password is kept beside it)."""

    imap: MailServer
    smtp: MailServer
    username: str

    def as_dict(self) -> dict[str, Any]:
        return {"imap": self.imap.as_dict(), "smtp": self.smtp.as_dict(), "username": self.username}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> MailboxSettings | None:
        """The settings kept by :meth:`as_dict`; ``None`` when they are not all there."""
        try:
            servers = [value[name] for name in ("imap", "smtp")]
            imap, smtp = (
                MailServer(str(s["host"]), int(s["port"]), s["security"]) for s in servers
            )
            username = str(value["username"])
        except (KeyError, TypeError, ValueError):
            return None
        if imap.security not in SECURITIES or smtp.security not in SECURITIES:
            return None
        return cls(imap, smtp, username)

    def checked(self, *, context: Context) -> MailboxSettings:
        """The same settings with hosts and login name as they are kept, or
        :class:`MailboxFailure` (``invalid``) naming the field that cannot be right."""
        return MailboxSettings(
            _server("imap", self.imap, context),
            _server("smtp", self.smtp, context),
            _username(self.username),
        )


_KEY = "mailbox"
"""Where :attr:`Credentials.extra <connectors.base.Credentials.extra>` holds the settings; the
password is beside them."""


def kept(settings: MailboxSettings, password: str) -> dict[str, Any]:
    """What an email account's credentials keep of its connected mailbox."""
    return {_KEY: settings.as_dict(), "password": password}


def unkept(extra: Mapping[str, Any]) -> tuple[MailboxSettings, str] | None:
    """The settings and password :func:`kept` put in the credentials; ``None`` when there is
    no mailbox, or not all of it."""
    settings = MailboxSettings.from_dict(extra.get(_KEY) or {})
    password = extra.get("password")
    if settings is None or not isinstance(password, str) or not password:
        return None
    return settings, password


def _server(protocol: Protocol, server: MailServer, context: Context) -> MailServer:
    host = clean(server.host, max_length=260).strip().rstrip(".").lower()
    written = literal(host)
    if written is not None:
        host = written.compressed
    elif not (context.allow_loopback and host == "localhost"):
        try:
            host = normalize_host(host)
        except InvalidHandle as error:
            raise MailboxFailure(
                "invalid", protocol, error.message, field=f"{protocol}_host"
            ) from error
    if not 0 < server.port < 65536:
        raise MailboxFailure(
            "invalid", protocol, "The port is a number from 1 to 65535.", field=f"{protocol}_port"
        )
    if server.security not in SECURITIES:
        raise MailboxFailure("invalid", protocol, "Choose TLS, STARTTLS or none.")
    if server.security == "none" and not context.allow_loopback:
        raise MailboxFailure("insecure", protocol, "The password would travel in clear.")
    return MailServer(host, server.port, server.security)


def _username(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > MAX_USERNAME or any(c in name for c in "\x00\r\n"):
        raise MailboxFailure("invalid", "imap", "Enter the login name.", field="username")
    return name


# -- checking the login --------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's certificate authorities; made once, shared by every connection."""
    return ssl.create_default_context()


async def check_login(
    settings: MailboxSettings, password: str, *, context: Context, tls: ssl.SSLContext | None = None
) -> None:
    """Log in to both servers, IMAP first; :class:`MailboxFailure` says why one refused."""
    tls = tls or _tls_context()
    imap_addresses = await _addresses("imap", settings.imap, context.addresses)
    smtp_addresses = await _addresses("smtp", settings.smtp, context.addresses)
    await asyncio.to_thread(_imap_run, settings, password, imap_addresses, tls, _logged_in)
    async with _smtp_session(settings, password, smtp_addresses, tls):
        pass


def _logged_in(imap: imaplib.IMAP4) -> None:
    """Nothing more to do than the login."""


async def on_imap(
    settings: MailboxSettings,
    password: str,
    work: Callable[[imaplib.IMAP4], T],
    *,
    context: Context,
    tls: ssl.SSLContext | None = None,
) -> T:
    """``work`` done on the mailbox's IMAP server, logged in, in a worker thread (imaplib
    blocks); logged out after it. :class:`MailboxFailure` when the server cannot be reached
    or refuses the login, or the connection is lost on the way (``unreachable``)."""
    addresses = await _addresses("imap", settings.imap, context.addresses)
    return await asyncio.to_thread(
        _imap_run, settings, password, addresses, tls or _tls_context(), work
    )


async def _addresses(protocol: Protocol, server: MailServer, policy: AddressPolicy) -> list[str]:
    """The checked addresses of a server; a server without encryption must be on loopback."""
    try:
        found = await policy.addresses(server.host, server.port)
    except Refused as error:
        raise MailboxFailure("private", protocol, str(error)) from error
    except Unreachable as error:
        raise MailboxFailure("unreachable", protocol, str(error)) from error
    if server.security == "none" and not all(
        is_loopback(address) for address in map(literal, found) if address is not None
    ):
        raise MailboxFailure("insecure", protocol, "The password would travel in clear.")
    return found


def _unreachable(protocol: Protocol, error: BaseException) -> MailboxFailure:
    return MailboxFailure("unreachable", protocol, f"cannot connect: {error}")


def _tls_failure(protocol: Protocol, error: BaseException | str) -> MailboxFailure:
    return MailboxFailure("tls", protocol, f"no secure connection: {error}")


class _IMAP(imaplib.IMAP4):
    """IMAP to one checked address, named ``host`` for STARTTLS."""

    def __init__(self, host: str, address: str, port: int) -> None:
        self._address = address
        super().__init__(host, port, timeout=TIMEOUT)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class _IMAPS(imaplib.IMAP4_SSL):
    """IMAP over TLS to one checked address, the certificate checked for ``host``."""

    def __init__(self, host: str, address: str, port: int, tls: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(host, port, ssl_context=tls, timeout=TIMEOUT)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        wrapped: socket.socket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return wrapped


def _imap_connect(server: MailServer, addresses: list[str], tls: ssl.SSLContext) -> imaplib.IMAP4:
    last: BaseException | None = None
    for address in addresses:
        try:
            if server.security == "tls":
                return _IMAPS(server.host, address, server.port, tls)
            return _IMAP(server.host, address, server.port)
        except ssl.SSLError as error:
            raise _tls_failure("imap", error) from error
        except (imaplib.IMAP4.error, EOFError, UnicodeError) as error:
            raise MailboxFailure("protocol", "imap", f"not an IMAP server: {error}") from error
        except OSError as error:
            last = error
    raise _unreachable("imap", last or OSError("no address"))


def _imap_run(
    settings: MailboxSettings,
    password: str,
    addresses: list[str],
    tls: ssl.SSLContext,
    work: Callable[[imaplib.IMAP4], T],
) -> T:
    """Blocking: run in a thread."""
    with _imap_session(settings, password, addresses, tls) as imap:
        return work(imap)


@contextlib.contextmanager
def _imap_session(
    settings: MailboxSettings, password: str, addresses: list[str], tls: ssl.SSLContext
) -> Iterator[imaplib.IMAP4]:
    """Blocking: a logged-in connection, logged out at the end."""
    server = settings.imap
    imap = _imap_connect(server, addresses, tls)
    try:
        _imap_start(imap, settings, password, tls)
        yield imap
    except imaplib.IMAP4.abort as error:  # the connection is lost
        raise _unreachable("imap", error) from error
    except imaplib.IMAP4.error as error:  # an answer the work did not expect
        raise MailboxFailure("protocol", "imap", str(error)) from error
    except (OSError, EOFError) as error:
        raise _unreachable("imap", error) from error
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def _imap_start(
    imap: imaplib.IMAP4, settings: MailboxSettings, password: str, tls: ssl.SSLContext
) -> None:
    """Encrypt as the settings say, and log in."""
    if settings.imap.security == "starttls":
        if "STARTTLS" not in imap.capabilities:
            raise _tls_failure("imap", "the server does not offer STARTTLS")
        try:
            imap.starttls(tls)
        except (ssl.SSLError, imaplib.IMAP4.error) as error:
            raise _tls_failure("imap", error) from error
    if "LOGINDISABLED" in imap.capabilities:
        raise MailboxFailure("plaintext", "imap", "the server disables LOGIN here")
    try:
        if settings.username.isascii() and password.isascii():
            imap.login(settings.username, password)
        else:  # LOGIN is ASCII only; SASL PLAIN carries UTF-8 (RFC 4616)
            plain = f"\0{settings.username}\0{password}".encode()
            imap.authenticate("PLAIN", lambda _: plain)
    except imaplib.IMAP4.abort as error:
        raise _unreachable("imap", error) from error
    except imaplib.IMAP4.error as error:
        text = str(error)
        if "PRIVACYREQUIRED" in text:
            raise MailboxFailure("plaintext", "imap", text) from error
        if "UNAVAILABLE" in text:
            raise MailboxFailure("unreachable", "imap", text) from error
        raise MailboxFailure("login", "imap", text) from error


async def _connected_socket(port: int, addresses: list[str]) -> socket.socket:
    loop = asyncio.get_running_loop()
    last: BaseException | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(TIMEOUT):
                await loop.sock_connect(sock, (address, port))
        except (OSError, TimeoutError) as error:
            sock.close()
            last = error
            continue
        return sock
    raise _unreachable("smtp", last or OSError("no address"))


def _cause(error: BaseException) -> BaseException | None:
    """The TLS error somewhere under ``error``, if there is one."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.asynccontextmanager
async def _smtp_session(
    settings: MailboxSettings, password: str, addresses: list[str], tls: ssl.SSLContext
) -> AsyncIterator[aiosmtplib.SMTP]:
    """A logged-in submission connection, closed at the end."""
    server = settings.smtp
    sock = await _connected_socket(server.port, addresses)
    smtp = aiosmtplib.SMTP(
        hostname=server.host,
        sock=sock,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        tls_context=tls,
        timeout=TIMEOUT,
        # Named here: the default asks the system's resolver for this machine's name, which
        # blocks the event loop.
        local_hostname="localhost",
    )
    try:
        try:
            await _smtp_start(smtp, settings, password)
        except (OSError, TimeoutError) as error:
            raise _unreachable("smtp", error) from error
        yield smtp
    finally:
        if smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit(timeout=3)
        smtp.close()
        sock.close()


async def _smtp_start(smtp: aiosmtplib.SMTP, settings: MailboxSettings, password: str) -> None:
    """Greet, encrypt as the settings say, and log in."""
    server = settings.smtp
    try:
        await smtp.connect()
    except aiosmtplib.SMTPException as error:
        tls_error = _cause(error)
        if tls_error is not None:
            raise _tls_failure("smtp", tls_error) from error
        if "STARTTLS" in str(error):
            raise _tls_failure("smtp", "the server does not offer STARTTLS") from error
        if isinstance(error, aiosmtplib.SMTPResponseException):
            raise MailboxFailure("protocol", "smtp", str(error)) from error
        raise _unreachable("smtp", error) from error
    except ssl.SSLError as error:
        raise _tls_failure("smtp", error) from error
    if smtp.is_ehlo_or_helo_needed:
        await smtp.ehlo()
    if not smtp.supports_extension("auth"):
        kind: FailureKind = "plaintext" if server.security == "none" else "protocol"
        raise MailboxFailure(kind, "smtp", "the server offers no login here")
    # One mechanism, once: a refused password tried again by the next mechanism would
    # count twice against the person at servers that lock out after a few.
    offered = smtp.server_auth_methods
    mechanism = next((m for m in ("plain", "login", "cram-md5") if m in offered), None)
    if mechanism is None:
        raise MailboxFailure("protocol", "smtp", f"no login mechanism we speak: {offered}")
    try:
        await getattr(smtp, f"auth_{mechanism.replace('-', '')}")(settings.username, password)
    except aiosmtplib.SMTPAuthenticationError as error:
        if error.code == 538:  # RFC 4954 §6: encryption required for this mechanism
            raise MailboxFailure("plaintext", "smtp", str(error)) from error
        if error.code == 454:  # a temporary failure of the server's own
            raise MailboxFailure("unreachable", "smtp", str(error)) from error
        raise MailboxFailure("login", "smtp", str(error)) from error
    except aiosmtplib.SMTPException as error:
        if server.security == "none":
            raise MailboxFailure("plaintext", "smtp", str(error)) from error
        raise MailboxFailure("protocol", "smtp", str(error)) from error


# -- sending -------------------------------------------------------------------------------


async def submit(
    settings: MailboxSettings,
    password: str,
    sender: str,
    recipient: str,
    message: bytes,
    *,
    context: Context,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Submit ``message`` (an RFC 5322 email, lines ending in CRLF) from ``sender`` to
    ``recipient`` on the mailbox's SMTP server.

    :class:`MailboxFailure` when the server cannot be reached or refuses the login;
    :class:`~connectors.base.PermanentError` when it refuses the recipient or the message
    for good; :class:`~connectors.base.Retriable` when for now, or when the connection was
    lost on the way, after which the message may have gone all the same (SMTP cannot tell).
    """
    addresses = await _addresses("smtp", settings.smtp, context.addresses)
    async with _smtp_session(settings, password, addresses, tls or _tls_context()) as smtp:
        options = []
        if not (sender.isascii() and recipient.isascii()):
            if not smtp.supports_extension("smtputf8"):
                raise PermanentError(
                    "Your mail server cannot send between addresses written beyond ASCII "
                    "(it does not offer SMTPUTF8)."
                )
            options.append("SMTPUTF8")
        try:
            await smtp.sendmail(sender, [recipient], message, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0] if error.recipients else None
            said = _said(refused) if refused else "no answer"
            if refused is None or refused.code < 500:
                raise Retriable(
                    f"The mail server cannot take mail for {recipient} now: {said}"
                ) from error
            raise PermanentError(
                f"The mail server refused the address {recipient}: {said}"
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            if error.code < 500:
                raise Retriable(
                    f"Your mail server cannot take the message now: {_said(error)}"
                ) from error
            if isinstance(error, aiosmtplib.SMTPSenderRefused):
                raise PermanentError(
                    f"Your mail server does not let this mailbox send as {sender}: {_said(error)}"
                ) from error
            raise PermanentError(f"Your mail server refused the message: {_said(error)}") from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise Retriable(
                f"The connection to your mail server was lost while sending: {error}"
            ) from error


def _said(error: aiosmtplib.SMTPResponseException) -> str:
    """What a server answered, on one line and not too long to show."""
    words = " ".join(str(error.message).split())
    return f"{error.code} {words[:200]}"
