"""A person's own mailbox: IMAP to read the answers, SMTP submission to send from it.

Why it looks like this:

- An email address is proven by a code (:mod:`connectors.email`); to send *from* it and read
  the answers *in* it, the portal needs the person's mailbox, with their login name and
  password, like any mail client. Those are kept encrypted with the account's credentials.
- The settings are looked up as Thunderbird does (the Mozilla autoconfig format,
  https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat): first the
  domain's own configuration server, ``https://autoconfig.<domain>/mail/config-v1.1.xml``,
  then ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``. Both are fetched by
  the caller's guarded HTTP client, briefly and up to a small size; whatever fails there
  only means the person fills the fields in. Servers offered without TLS are passed over.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import aiosmtplib
import defusedxml.ElementTree as SafeXML
import httpx

from connectors._addresses import AddressPolicy, Refused, Unreachable, is_loopback, literal
from connectors._http import read_capped
from connectors.base import Context, InvalidHandle, PermanentError, clean, normalize_host

__all__ = [
    "MailServer",
    "MailboxFailure",
    "MailboxSettings",
    "autoconfig",
    "autoconfig_urls",
    "check_login",
    "guess",
    "parse_autoconfig",
]

Security = Literal["tls", "starttls", "none"]
SECURITIES: tuple[Security, ...] = ("tls", "starttls", "none")
Protocol = Literal["imap", "smtp"]
FailureKind = Literal[
    "login", "unreachable", "tls", "plaintext", "private", "insecure", "protocol", "invalid"
]

TIMEOUT = 15.0
"""The longest one server may take to greet, encrypt and answer the login."""
AUTOCONFIG_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
AUTOCONFIG_LIMIT = 64 * 1024
"""Real configuration files are a few kilobytes."""
MAX_USERNAME = 320

_PORTS: dict[Protocol, dict[Security, int]] = {
    "imap": {"tls": 993, "starttls": 143, "none": 143},
    "smtp": {"tls": 465, "starttls": 587, "none": 587},
}
_SOCKET_TYPES: dict[str, Security] = {"SSL": "tls", "STARTTLS": "starttls"}
_PASSWORD_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure"}


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


# -- finding the settings ------------------------------------------------------------------


def guess(address: str) -> MailboxSettings:
    """What most providers use, for a person to correct: ``imap.`` and ``smtp.`` of the
    address's domain, with TLS from the first byte, and the address as the login."""
    domain = address.rpartition("@")[2]
    return MailboxSettings(
        MailServer(f"imap.{domain}", 993, "tls"), MailServer(f"smtp.{domain}", 465, "tls"), address
    )


def autoconfig_urls(address: str) -> list[str]:
    """Where Thunderbird looks for the settings of ``address``, in its order."""
    domain = address.rpartition("@")[2]
    return [
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={quote(address, safe='@')}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    ]


async def autoconfig(
    address: str, http: httpx.AsyncClient, urls: Sequence[str] | None = None
) -> MailboxSettings | None:
    """The settings the domain of ``address`` publishes, or ``None`` when it publishes none
    that can be used (not found, not answering, not the format, only servers without TLS).

    ``http`` must be a guarded client: the domain is the person's to name."""
    for url in autoconfig_urls(address) if urls is None else urls:
        try:
            async with http.stream("GET", url, timeout=AUTOCONFIG_TIMEOUT) as response:
                if response.status_code != 200:
                    continue
                body = await read_capped(response, AUTOCONFIG_LIMIT)
        except httpx.HTTPError:
            continue
        if body is None:
            continue
        found = parse_autoconfig(body, address)
        if found is not None:
            return found
    return None


def parse_autoconfig(body: bytes, address: str) -> MailboxSettings | None:
    """The IMAP and SMTP servers of a Mozilla autoconfig file, with the login name filled
    in for ``address``; the first of each kind offered with TLS and a password, preferring
    TLS from the first byte."""
    try:
        root = SafeXML.fromstring(body)
    except Exception:  # defusedxml's refusals and every parse error alike
        return None
    provider = root.find("emailProvider")
    if root.tag != "clientConfig" or provider is None:
        return None
    imap = _pick(provider.findall("incomingServer"), "imap", address)
    smtp = _pick(provider.findall("outgoingServer"), "smtp", address)
    if imap is None or smtp is None:
        return None
    return MailboxSettings(imap[0], smtp[0], imap[1] or smtp[1] or address)


def _pick(elements: list[Any], kind: str, address: str) -> tuple[MailServer, str] | None:
    found: list[tuple[MailServer, str]] = []
    for element in elements:
        if element.get("type") != kind:
            continue
        host = (element.findtext("hostname") or "").strip()
        security = _SOCKET_TYPES.get((element.findtext("socketType") or "").strip().upper())
        auth = {(a.text or "").strip() for a in element.findall("authentication")}
        try:
            port = int((element.findtext("port") or "").strip())
        except ValueError:
            continue
        if not host or security is None or not 0 < port < 65536:
            continue
        if auth and not auth & _PASSWORD_AUTH:
            continue  # OAuth 2 only, or a client certificate
        username = _fill((element.findtext("username") or "").strip(), address)
        found.append((MailServer(_fill(host, address), port, security), username))
    found.sort(key=lambda item: item[0].security != "tls")
    return found[0] if found else None


def _fill(template: str, address: str) -> str:
    local, _, domain = address.rpartition("@")
    return (
        template.replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
    )


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
    await asyncio.to_thread(_imap_login, settings, password, imap_addresses, tls)
    await _smtp_login(settings, password, smtp_addresses, tls)


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


def _imap_login(
    settings: MailboxSettings, password: str, addresses: list[str], tls: ssl.SSLContext
) -> None:
    """Blocking: run in a thread."""
    server = settings.imap
    imap = _imap_connect(server, addresses, tls)
    try:
        if server.security == "starttls":
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
    except (OSError, EOFError) as error:
        raise _unreachable("imap", error) from error
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


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


async def _smtp_login(
    settings: MailboxSettings, password: str, addresses: list[str], tls: ssl.SSLContext
) -> None:
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
    except (OSError, TimeoutError) as error:
        raise _unreachable("smtp", error) from error
    finally:
        if smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit(timeout=3)
        smtp.close()
        sock.close()
