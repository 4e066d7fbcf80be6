"""Emails as Portal writes them from a person's mailbox, and reads the answers to them.

Pure functions, no connection: :mod:`connectors.email` sends and fetches.

- A message is one plain-text UTF-8 part (RFC 2045-2049), encoded in 7 bits
  (quoted-printable or base64 where the text needs it), so that any server relays it as it
  is; the headers are encoded by RFC 2047, or in UTF-8 (RFC 6532) where an address needs it.
  Its ``Message-ID`` (RFC 5322 §3.6.4) is derived from the copy's key, so that every try of
  one message is the same email.
- An answer is any email whose ``In-Reply-To`` or ``References`` names that ``Message-ID``:
  what every mail client writes in a reply. It is read as mail comes, which may be
  anything: the parser is the standard library's with ``policy.default``, every failure of
  it or of a header skips the email, and only its first part that is text is read, plain
  text where there is one, else HTML made into text.
- Mail clients quote the message they answer under a line that says who wrote it
  (``On … wrote:``), each quoted line behind ``>`` (RFC 3676 §4.5), or in an HTML
  ``<blockquote>``; Outlook puts the original below a block of its headers
  (``From:``/``Sent:``). The answer is what is left without those and without a signature
  (below ``-- ``).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, parsedate_to_datetime
from html import unescape

from connectors.base import Answer, Upload

__all__ = [
    "MAX_ANSWER",
    "compose",
    "html_to_text",
    "message_id",
    "read_answer",
    "same_address",
    "subject_of",
    "without_quotes",
]

SUBJECT_LENGTH = 60
MAX_ANSWER = 20_000
"""The longest answer kept, in characters: longer ones are cut."""

MAX_HEADER = 2000
_PARSED = re.compile(rb"(content-[a-z-]*|from|date|message-id)[ \t]*:", re.IGNORECASE)

_WRITING = policy.default.clone(cte_type="7bit")
"""The body in 7 bits: quoted-printable or base64 where the text needs them."""
_READING = policy.default

_NOT_CHARSETS = frozenset({"ascii", "punycode", "idna", "unicode-escape", "raw-unicode-escape"})
"""Codecs a charset may name that are no character set of mail: ASCII, which a sender often
writes for UTF-8, is read as UTF-8; the others, which decode slowly or turn escapes into
characters, are not used."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


# -- writing ---------------------------------------------------------------------------------


def message_id(key: str, address: str) -> str:
    """The ``Message-ID`` of every try of the message with ``key``, sent from ``address``: a
    hash of the key (never the key itself) at the address's domain."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{address.rpartition('@')[2]}>"


def subject_of(text: str) -> str:
    """A subject a person reads in their list of mail: the first line of the text, cut at a
    word near :data:`SUBJECT_LENGTH` characters."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = " ".join(_CONTROL.sub("", first).split())
    if len(line) <= SUBJECT_LENGTH:
        return line
    window = line[: SUBJECT_LENGTH + 1]
    cut = window.rsplit(" ", 1)[0] if " " in window else ""
    if len(cut) < SUBJECT_LENGTH // 2:  # one long word: cut inside it
        cut = line[:SUBJECT_LENGTH]
    return cut.rstrip(" ,;:.-") + "…"


def compose(
    sender: str,
    to: str,
    text: str,
    identity: str,
    now: datetime,
    picture: Upload | None = None,
) -> bytes:
    """The email of a message from ``sender`` to ``to`` with the ``Message-ID`` ``identity``,
    as it is submitted and kept in the Sent folder (lines ending in CRLF); ``picture``
    attached, to be shown inline (RFC 2183), its alt text as the part's description."""
    email = EmailMessage(policy=_WRITING)
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject_of(text)
    email["Date"] = format_datetime(now.astimezone(UTC))
    email["Message-ID"] = identity
    email.set_content(text.replace("\r\n", "\n") + "\n", charset="utf-8")
    if picture is not None:
        maintype, _, subtype = picture.mime_type.partition("/")
        description = " ".join(picture.description.split())
        email.add_attachment(
            picture.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            disposition="inline",
            filename=f"picture.{subtype or 'bin'}",
            headers=[f"Content-Description: {description}"] if description else None,
        )
    utf8 = not (sender.isascii() and to.isascii())
    return email.as_bytes(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)


# -- reading ---------------------------------------------------------------------------------


def read_answer(raw: bytes, to: str, thread: str, arrived: datetime | None) -> Answer | None:
    """The answer ``raw`` holds: an email from ``to`` in the conversation of ``thread`` (a
    ``Message-ID``). ``None`` when it is not one, or cannot be read, or says nothing but
    what it quotes. The time is the ``Date`` it was written at, no later than it ``arrived``
    at the server; ``arrived`` where it has no date."""
    if _too_long(raw):
        return None
    try:
        email = BytesParser(policy=_READING).parsebytes(raw)
        if not _answers(email, thread) or not _from(email, to):
            return None
        text = _text(email)
        if text is None:
            return None
        text = without_quotes(text)[:MAX_ANSWER].strip()
        written = _date(email)
        identity = " ".join(_raw(email, "Message-ID").split())
    except Exception:  # mail is anyone's to write: every failure of a parser alike
        return None
    if not text:
        return None
    if written is None or (arrived is not None and written > arrived):
        written = arrived
    if written is None:
        return None
    return Answer(id=identity or _id_of(raw), text=text, written_at=written)


def _raw(email: Message, name: str) -> str:
    """A header as it was written (the first of its name), unparsed."""
    wanted = name.lower()
    return next((str(value) for key, value in email.raw_items() if key.lower() == wanted), "")


def _too_long(raw: bytes) -> bool:
    """Whether a header the standard library parses (the sender, the date, the id, and how
    each part is written) is longer than any a mail client writes: some of those it parses
    in time that grows faster than their length. Looked for before parsing, in every line
    that may begin one, as parts have headers too."""
    length, parsed = 0, False
    for line in raw.split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a header folded onto the next line
            length += len(line)
        else:
            length, parsed = len(line), bool(_PARSED.match(line))
        if parsed and length > MAX_HEADER:
            return True
    return False


def _id_of(raw: bytes) -> str:
    """An id for an email without a ``Message-ID``: the same bytes have the same id."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id>"


def same_address(one: str, other: str) -> bool:
    """Whether two addresses are one mailbox, as people write them: letter case aside, and a
    domain the same in Unicode and in ASCII (IDNA)."""
    return _address_key(one) == _address_key(other)


def _address_key(address: str) -> str:
    local, _, domain = address.strip().rpartition("@")
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local.casefold()}@{domain.lower()}"


def _from(email: Message, to: str) -> bool:
    """The email is from ``to`` alone."""
    addresses: tuple[Address, ...] = getattr(email["From"], "addresses", ())
    return len(addresses) == 1 and same_address(addresses[0].addr_spec, to)


def _answers(email: Message, thread: str) -> bool:
    """The email names ``thread`` among those it answers. A ``Message-ID`` holds no space,
    so a header folded over lines still holds it whole."""
    return any(
        thread in str(value)
        for name, value in email.raw_items()
        if name.lower() in ("in-reply-to", "references")
    )


def _date(email: Message) -> datetime | None:
    try:
        written = parsedate_to_datetime(_raw(email, "Date"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return written if written.tzinfo is not None else written.replace(tzinfo=UTC)


def _text(email: Message) -> str | None:
    """The email's text: its plain-text body, else its HTML body as text."""
    if not isinstance(email, EmailMessage):
        return None
    body = email.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None
    text = _decoded(body)
    if body.get_content_subtype() == "html":
        text = html_to_text(text)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text.replace("\t", "    "))


def _decoded(part: Message) -> str:
    """A text part's characters; a charset Python does not know, or that is not one of text,
    is read as UTF-8, and bytes that are not characters become U+FFFD."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        name = "utf-8"
    if name in _NOT_CHARSETS:
        name = "utf-8"
    try:
        return data.decode(name, "replace")
    except (LookupError, ValueError):  # a codec of bytes to bytes, or of str to str
        return data.decode("utf-8", "replace")


# -- quotes ----------------------------------------------------------------------------------

_WROTE = re.compile(
    r"(wrote|writes|a écrit|ha scritto|schrieb|escribió|escreveu|schreef|skrev|napisał"
    r"|kirjoitti|написал\(а\)|написал|написала)\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(
    r"^\s*(On|Le|Il|Am|El|Em|Op|Den|Dne|W dniu|Il giorno)\b", re.IGNORECASE
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Messaggio originale|Mensaje original|Mensagem original|Oorspronkelijk bericht)\s*-{2,}",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(From|De|Da|Von|Van|Od)\s?:", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(Sent|Date|Envoyé|Inviato|Gesendet|Datum|Enviado|Verzonden|Data|Wysłane)\s?:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*[_\-=]{5,}\s*$")


def without_quotes(text: str) -> str:
    """The text of an answer without what it quotes of the message it answers, and without
    its signature."""
    lines = text.split("\n")
    after = _After(lines)
    lines = lines[: _end(lines, after)]
    kept: list[str] = []
    skip = _attributions(lines, after)
    for index, line in enumerate(lines):
        if index in skip or _quoted(line):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _RULE.match(kept[-1])):
        kept.pop()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


class _After:
    """What follows each line, counted once from the end: how many lines with words follow,
    how many of them are quoted, and whether the first of them is."""

    def __init__(self, lines: list[str]) -> None:
        size = len(lines)
        self.said = [0] * (size + 1)
        self.quoted = [0] * (size + 1)
        self.next_quoted = [False] * (size + 1)
        for index in range(size - 1, -1, -1):
            line = lines[index]
            words = bool(line.strip())
            self.said[index] = self.said[index + 1] + words
            self.quoted[index] = self.quoted[index + 1] + (words and _quoted(line))
            self.next_quoted[index] = _quoted(line) if words else self.next_quoted[index + 1]


def _end(lines: list[str], after: _After) -> int:
    """Where the answer ends: at a signature, at the original message Outlook puts below a
    block of its headers, or at an ``On … wrote:`` followed by the quote alone."""
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or _ORIGINAL.match(line):
            return index
        if _HEADER_FROM.match(line) and any(
            _HEADER_SENT.match(next_line) for next_line in lines[index + 1 : index + 4]
        ):
            return index
        start = _attribution_at(lines, index)
        if start is not None and _ATTRIBUTION_START.match(lines[start]):
            said, quoted = after.said[index + 1], after.quoted[index + 1]
            if quoted in (said, 0):  # all quoted, or quoted without '>'
                return start
    return len(lines)


def _attributions(lines: list[str], after: _After) -> set[int]:
    """The lines that say who wrote the quote after them (``… wrote:``, maybe wrapped over
    two lines), where a quoted line follows."""
    found: set[int] = set()
    for index in range(len(lines)):
        start = _attribution_at(lines, index)
        if start is not None and after.next_quoted[index + 1]:
            found.update(range(start, index + 1))
    return found


def _attribution_at(lines: list[str], index: int) -> int | None:
    """Where the attribution ending on line ``index`` starts: that line, or the one before
    where a long one is wrapped; ``None`` when the line ends none."""
    line = lines[index]
    if len(line) > 300 or not _WROTE.search(line):
        return None
    before = lines[index - 1] if index > 0 else ""
    wrapped = not _ATTRIBUTION_START.match(line) and _ATTRIBUTION_START.match(before)
    return index - 1 if wrapped and len(before) < 300 else index


# -- HTML as text ----------------------------------------------------------------------------

_BLOCKS = frozenset(
    {"p", "div", "pre", "ul", "ol", "li", "tr", "table", "hr", "section", "article"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "address", "center"}
)
_HIDDEN = frozenset({"script", "style", "template", "head", "title", "noscript", "xml"})
"""Elements whose content is not text a person reads (Outlook's HTML carries ``<xml>``)."""
_TAG = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9:-]*)")


def html_to_text(html: str) -> str:
    """An email's HTML as the text a person reads in it: each block on a line of its own,
    (as mail clients write one line in each ``<div>``), empty lines where ``<br>`` makes
    them, what a ``<blockquote>`` holds on lines quoted with ``>``, and nothing of scripts,
    styles and the head.

    Read by a scanner of its own that looks at each character a bounded number of times:
    :class:`html.parser.HTMLParser` and an HTML5 parser both take quadratic time on some
    malformed input (unclosed tags, deep nesting), and mail is anyone's to write."""
    lower = html.lower()
    lines: list[tuple[int, list[str]]] = [(0, [])]
    depth = 0

    def new_line(*, always: bool = False) -> None:
        if always or "".join(lines[-1][1]).strip():
            lines.append((depth, []))
        else:  # a block that begins where another ended: the same line
            lines[-1] = (depth, [])

    position = 0
    while position < len(html):
        start = html.find("<", position)
        if start < 0:
            start = len(html)
        lines[-1][1].append(html[position:start])
        if start >= len(html):
            break
        if html.startswith("<!--", start):
            end = html.find("-->", start + 4)
            position = len(html) if end < 0 else end + 3
            continue
        end = html.find(">", start + 1)
        if end < 0:  # no tag closes: what is left is text
            lines[-1][1].append(html[start:])
            break
        position = end + 1
        tag = _TAG.match(html, start + 1, end)
        if tag is None:
            continue  # a declaration, a processing instruction, or '<' alone
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name in _HIDDEN and not closing:
            after = lower.find(f"</{name}", position)
            position = len(html) if after < 0 else after
        elif name == "br":
            new_line(always=True)
        elif name == "blockquote":
            depth = max(0, depth - 1) if closing else depth + 1
            new_line()
        elif name in _BLOCKS:
            new_line()
            if name == "li" and not closing:
                lines[-1][1].append("- ")
    out: list[str] = []
    for quoted, parts in lines:
        line = " ".join(_unescaped("".join(parts)).replace("\xa0", " ").split())
        if not line and (not out or not out[-1]):
            continue  # one empty line at most, and none first
        out.append(("> " * quoted) + line if line else "")
    return "\n".join(out).strip("\n")


def _unescaped(text: str) -> str:
    try:
        return unescape(text)
    except ValueError:  # a character reference of thousands of digits
        return text
