"""A person's card as a vCard, for address books: version 4.0 (RFC 6350) or 3.0 (RFC 2426).

Everything in it comes from one :class:`~portal.domain.privacy.Card`, the card the viewer may
see; nothing else of the person is read. How the text is written:

- lines end in CRLF and are folded at 75 octets (RFC 6350 §3.2, RFC 2426 §2.6): a CRLF and one
  space, never inside a UTF-8 sequence;
- text values escape backslash, comma, semicolon and line breaks (RFC 6350 §3.4, RFC 2426
  §4); controls that a vCard cannot carry are dropped;
- URI values percent-encode what would break the line's structure (``,``, ``;``, ``\\``,
  spaces and anything outside ASCII);
- the ``UID`` is a name-based UUID of the number's page (RFC 4122 §4.3), the same for every
  viewer and every download, so that an address book updates the contact instead of adding
  another one; ``REV`` is when this copy was written.

Messenger accounts become ``IMPP`` entries where the network has a URI scheme (``xmpp:``,
RFC 5122; ``matrix:``, the Matrix specification's URI scheme) and ``X-SOCIALPROFILE`` entries
with the app's link otherwise (WhatsApp, Telegram, Signal…), the property Apple's and Google's
address books read.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from portal import __version__
from portal.domain.privacy import Card, VisibleAccount

Version = Literal["3.0", "4.0"]
VERSIONS: tuple[Version, ...] = ("4.0", "3.0")
MAX_OCTETS = 75
"""The longest a line may be, without its CRLF."""

MESSENGERS = frozenset(
    {
        "whatsapp",
        "telegram",
        "signal",
        "viber",
        "messenger",
        "line",
        "wechat",
        "discord",
        "xmpp",
        "matrix",
    }
)
"""Networks one writes to, rather than follows."""

_NOT_IN_VCARD = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
"""Controls a vCard value cannot hold (horizontal tab and line breaks are handled apart)."""
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_URI_SAFE = "/:?#[]@!$&'()*+=-._~%"
"""Characters left as they are in URI values: RFC 3986's, without ``,`` and ``;``."""
_PARAM_VALUE = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class VCard:
    text: str
    filename: str

    @property
    def data(self) -> bytes:
        return self.text.encode()


def uid(page_url: str) -> str:
    """The stable identifier of the number's vCard: ``urn:uuid:`` and a UUID of its page."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, page_url)}"


def escape_text(value: str) -> str:
    """A text value as RFC 6350 §3.4 and RFC 2426 §4 write it."""
    value = _NOT_IN_VCARD.sub("", value)
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _LINE_BREAK.sub("\\\\n", value)


def escape_uri(value: str) -> str:
    """A URI value with nothing in it that a vCard parser could take for structure."""
    return quote(_NOT_IN_VCARD.sub("", value), safe=_URI_SAFE)


def fold(line: str) -> str:
    """One content line folded at :data:`MAX_OCTETS` octets, with its CRLF."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    limit = MAX_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1  # the continuation's space counts
        current.append(char)
        size += octets
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def _param(value: str) -> str:
    return _PARAM_VALUE.sub("-", value.lower())[:40]


def _impp(account: VisibleAccount) -> str | None:
    """The instant-messaging URI of an account, where its network has a scheme."""
    if account.network == "xmpp" and account.app_url and account.app_url.startswith("xmpp:"):
        return account.app_url.split("?", 1)[0]
    if account.network == "matrix" and account.handle.startswith("@") and ":" in account.handle:
        return "matrix:u/" + quote(account.handle[1:], safe=":[]")
    return None


def _lines(card: Card, *, version: Version, page_url: str, now: datetime) -> list[str]:
    v4 = version == "4.0"
    lines = [
        "BEGIN:VCARD",
        f"VERSION:{version}",
        f"PRODID:-//Portal//Portal {escape_text(__version__)}//EN",
    ]
    if v4:
        lines.append("KIND:individual")
    lines.append(f"UID:{uid(page_url)}")
    name = card.display_name or card.display_number
    lines.append(f"FN:{escape_text(name)}")
    if not v4:  # N is required in 3.0; a single name goes in the given-name component
        lines.append(f"N:;{escape_text(card.display_name or '')};;;")
    if card.avatar_etag:
        photo = escape_uri(f"{page_url}/avatar?v={card.avatar_etag}")
        lines.append(f"PHOTO:{photo}" if v4 else f"PHOTO;VALUE=uri:{photo}")
    if card.phone:
        phone = escape_uri(card.phone)
        lines.append(f"TEL;VALUE=uri;TYPE=cell:tel:{phone}" if v4 else f"TEL;TYPE=CELL:{phone}")
    if card.bio:
        lines.append(f"NOTE:{escape_text(card.bio)}")
    lines.append(f"URL:{escape_uri(page_url)}")
    for account in card.accounts:
        kind = _param(account.network)
        if account.network == "email":
            email = escape_text(account.handle)
            lines.append(f"EMAIL:{email}" if v4 else f"EMAIL;TYPE=INTERNET:{email}")
            continue
        if account.url:
            lines.append(f"URL;TYPE=x-{kind}:{escape_uri(account.url)}")
        impp = _impp(account)
        if impp:
            lines.append(f"IMPP;TYPE=personal:{escape_uri(impp)}")
        elif account.network in MESSENGERS and (account.app_url or account.url):
            link = escape_uri(account.app_url or account.url or "")
            lines.append(f"X-SOCIALPROFILE;TYPE={kind}:{link}")
    lines.append(f"REV:{now.strftime('%Y%m%dT%H%M%SZ')}")
    lines.append("END:VCARD")
    return lines


def render(card: Card, *, version: Version, page_url: str, now: datetime) -> VCard:
    """The vCard of ``card`` as text; ``now`` (UTC) is its ``REV``."""
    text = "".join(fold(line) for line in _lines(card, version=version, page_url=page_url, now=now))
    return VCard(text=text, filename=f"portal-{card.number}.vcf")


def without_revision(text: str) -> str:
    """The vCard without its ``REV`` line: what stays the same while the card does."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("REV:"))
