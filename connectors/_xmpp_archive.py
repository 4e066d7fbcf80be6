"""What an XMPP account's own archive (XEP-0313) tells of a chat with one person: whether a
message went out, what they wrote back, and whether they read it (the why of it is in
:mod:`connectors.xmpp`).

The archive is read newest first, at most :data:`MAX_SCANNED` of its entries with that
person; each entry is the stanza as it passed, forwarded (XEP-0297) with the time the server
took it (XEP-0203) and the archive's own id for it, which stays the same on every read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout

from connectors.base import MAX_ANSWERS, Answer, ConnectorError, PermanentError, Retriable

MAX_SCANNED = 500
"""How many entries of the archive are looked through, newest first, at most."""
PAGE = 100
ARCHIVE_LOOKBACK = timedelta(days=1)
"""How far back the archive is searched for a message that went out unrecorded: a try is
repeated within the hour (``portal.domain.messages.deliver``)."""

MARKERS = "urn:xmpp:chat-markers:0"
RETRACT = "urn:xmpp:message-retract:1"
RETRACT_0 = "urn:xmpp:message-retract:0"
FASTEN = "urn:xmpp:fasten:0"
CORRECT = "urn:xmpp:message-correct:0"
FALLBACK = "urn:xmpp:fallback:0"
ORIGIN = "urn:xmpp:sid:0"
_NO_ARCHIVE = frozenset({"feature-not-implemented", "service-unavailable"})
"""What a server answers a query it does not serve (RFC 6120 §8.4 names the first)."""


@dataclass(frozen=True, slots=True)
class Archived:
    """One chat stanza of the archive, as much of it as matters here."""

    archive_id: str
    sender: str
    """Its sender's bare address."""
    id: str
    origin_id: str
    body: str
    """Its text, without what only stands in for something else (XEP-0428)."""
    written_at: datetime | None
    retracts: str = ""
    """The id of a message it takes back (XEP-0424)."""
    corrects: str = ""
    """The id of a message it corrects (XEP-0308)."""
    displayed: str = ""
    """The id of a message it marks as seen (XEP-0333)."""

    def names(self, message_id: str) -> bool:
        return message_id in (self.id, self.origin_id)


async def in_archive(client: ClientXMPP, recipient: str, key: str) -> bool:
    """Whether the account's archive holds a message to ``recipient`` with the id ``key``; a
    server that keeps none cannot tell, and the message is sent."""
    since = datetime.now(UTC) - ARCHIVE_LOOKBACK
    recipient = JID(recipient).bare
    try:
        async with contextlib.aclosing(_entries(client, recipient, since)) as entries:
            async for entry in entries:
                if entry.sender != recipient and entry.names(key):
                    return True
    except ConnectorError:
        return False
    return False


async def answers(
    client: ClientXMPP, recipient: str, message_id: str, since: datetime
) -> list[Answer]:
    """What ``recipient`` wrote to the account since ``since`` and after the message
    ``message_id`` (where the archive holds it), oldest first, at most the newest
    :data:`MAX_ANSWERS`: as last corrected, and none they took back."""
    recipient = JID(recipient).bare
    taken_back: set[str] = set()
    corrected: dict[str, str] = {}
    found: list[Answer] = []
    async with contextlib.aclosing(_entries(client, recipient, since)) as entries:
        async for entry in entries:
            if entry.sender != recipient:
                if entry.names(message_id):
                    break
                continue
            if entry.retracts:
                taken_back.add(entry.retracts)
            elif entry.corrects:
                if entry.body:
                    corrected.setdefault(entry.corrects, entry.body)  # the newest correction
            elif entry.body and entry.written_at is not None:
                if any(entry.names(id_) for id_ in taken_back):
                    continue
                text = next((corrected[i] for i in corrected if entry.names(i)), entry.body)
                found.append(Answer(entry.archive_id, text, entry.written_at))
                if len(found) >= MAX_ANSWERS:
                    break
    return found[::-1]


async def read(client: ClientXMPP, recipient: str, message_id: str) -> bool:
    """Whether ``recipient`` saw the message ``message_id``: they marked it, or a later
    message of the account, as displayed (XEP-0333: a marker stands for every message
    before it too; ``received`` only says it reached a device), or wrote after it."""
    recipient = JID(recipient).bare
    marked: set[str] = set()
    async with contextlib.aclosing(_entries(client, recipient, None)) as entries:
        async for entry in entries:
            if entry.sender == recipient:
                if entry.displayed:
                    marked.add(entry.displayed)
                elif entry.body and not (entry.retracts or entry.corrects):
                    return True
            elif any(entry.names(id_) for id_ in marked):
                return True
            elif entry.names(message_id):
                return False
    return False


async def _entries(
    client: ClientXMPP, recipient: str, since: datetime | None
) -> AsyncGenerator[Archived]:
    """The chat stanzas of the account's archive with ``recipient``, newest first."""
    client.register_plugin("xep_0313")
    try:
        results = client.plugin["xep_0313"].iterate(
            with_jid=JID(recipient), start=since, reverse=True, rsm={"max": PAGE}, total=MAX_SCANNED
        )
        async with contextlib.aclosing(results):
            async for result in results:
                entry = archived(result["mam_result"])
                if entry is not None:
                    yield entry
    except IqTimeout as error:
        raise Retriable("The XMPP server did not answer in time.") from error
    except IqError as error:
        if error.condition in _NO_ARCHIVE:
            raise PermanentError(
                "This XMPP server keeps no archive of messages, so Portal cannot read the "
                "conversation."
            ) from error
        raise Retriable(
            f"The XMPP server did not let Portal read the account's archive ({error.condition})."
        ) from error


def archived(result: Any) -> Archived | None:
    """An archive result (``<result>`` of XEP-0313) as :class:`Archived`; ``None`` for what
    is not a chat stanza."""
    forwarded = result["forwarded"]
    stanza = forwarded["stanza"]
    if not hasattr(stanza, "xml") or stanza.xml.tag != "{jabber:client}message":
        return None
    if stanza["type"] not in ("chat", "normal", ""):
        return None
    xml: Element = stanza.xml
    return Archived(
        archive_id=str(result["id"]),
        sender=JID(stanza["from"]).bare,
        id=str(stanza["id"] or ""),
        origin_id=_attribute(xml, f"{{{ORIGIN}}}origin-id", "id"),
        body=_text(xml),
        written_at=_stamp(forwarded["delay"]["stamp"]),
        retracts=_retracted(xml),
        corrects=_attribute(xml, f"{{{CORRECT}}}replace", "id"),
        displayed=_attribute(xml, f"{{{MARKERS}}}displayed", "id"),
    )


def _retracted(xml: Element) -> str:
    """The id of the message a retraction takes back: ``<retract id>`` (XEP-0424), or the
    ``<apply-to>`` of its first version (``urn:xmpp:message-retract:0``)."""
    retracted = _attribute(xml, f"{{{RETRACT}}}retract", "id")
    fastened = xml.find(f"{{{FASTEN}}}apply-to")
    if retracted or fastened is None or fastened.find(f"{{{RETRACT_0}}}retract") is None:
        return retracted
    return fastened.get("id", "")


def _attribute(xml: Element, tag: str, name: str) -> str:
    found = xml.find(tag)
    return found.get(name, "") if found is not None else ""


def _text(xml: Element) -> str:
    """The body, less the ranges a XEP-0428 fallback marks (a reply's quote); empty where
    the whole body is a fallback (a retraction's notice to clients that do not know it)."""
    body = xml.findtext("{jabber:client}body") or ""
    ranges: list[tuple[int, int]] = []
    for fallback in xml.findall(f"{{{FALLBACK}}}fallback"):
        parts = fallback.findall(f"{{{FALLBACK}}}body")
        if not parts:
            return ""
        for part in parts:
            try:
                start, end = int(part.get("start", "0")), int(part.get("end", "0"))
            except ValueError:
                continue
            if 0 <= start < end <= len(body):
                ranges.append((start, end))
    for start, end in sorted(ranges, reverse=True):
        body = body[:start] + body[end:]
    return body.strip()


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
