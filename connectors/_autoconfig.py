"""A mailbox's IMAP and SMTP settings found as Thunderbird finds them, for a person to check.

The Mozilla autoconfig format
(https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat) is looked for first
at the domain's own configuration server, ``https://autoconfig.<domain>/mail/config-v1.1.xml``,
then at ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``. Both are fetched by
the caller's guarded HTTP client, briefly and up to a small size; whatever fails there only
means the person fills the fields in. Servers offered without TLS are passed over. Where
nothing is found, :func:`guess` offers what most providers use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import defusedxml.ElementTree as SafeXML
import httpx

from connectors._http import read_capped
from connectors._mailbox import MailboxSettings, MailServer, Security

__all__ = ["autoconfig", "autoconfig_urls", "guess", "parse_autoconfig"]

AUTOCONFIG_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
AUTOCONFIG_LIMIT = 64 * 1024
"""Real configuration files are a few kilobytes."""

_SOCKET_TYPES: dict[str, Security] = {"SSL": "tls", "STARTTLS": "starttls"}
_PASSWORD_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure"}


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
