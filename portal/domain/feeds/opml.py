"""OPML 1.0 and 2.0 subscription lists (http://opml.org/spec2.opml), the way feed readers
exchange what they follow: read on import, written on export.

A list comes from a person's file and may be hostile: it is read with defusedxml, which
refuses DTDs, entity declarations and external references outright, within a size limit and
an outline limit. Folders are the outlines that hold others (only the nearest one is kept, as
most readers do); a feed is an outline with an ``xmlUrl``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from portal.domain.feeds.discover import address
from portal.domain.feeds.fetch import FetchError
from portal.errors import InvalidInput

MAX_BYTES = 5 * 1024 * 1024
MAX_FEEDS = 5000


@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    title: str
    folder: str | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class Imported:
    feeds: tuple[Outline, ...]
    skipped: int
    """Outlines with an address that cannot be followed (``file:``, garbage)."""


def read(document: bytes) -> Imported:
    """The feeds of an OPML document; :class:`InvalidInput` when it is none."""
    if len(document) > MAX_BYTES:
        raise InvalidInput(
            "This file is larger than %(megabytes)s MB.",
            field="opml",
            megabytes=MAX_BYTES // (1024 * 1024),
        )
    try:
        root = fromstring(document)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise InvalidInput("This file is not an OPML subscription list.", field="opml") from error
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InvalidInput("This file is not an OPML subscription list.", field="opml")
    feeds: dict[str, Outline] = {}
    skipped = 0

    # Outlines are walked with a list, not by recursion: a hostile file may nest them as deep as
    # its size allows.
    waiting: list[tuple[Element, str | None]] = [
        (o, None) for o in reversed(body.findall("outline"))
    ]
    while waiting:  # in the document's order: an outline, then what it holds, then the next
        outline, folder = waiting.pop()
        title = (outline.get("title") or outline.get("text") or "").strip()[:300]
        given = outline.get("xmlUrl") or outline.get("xmlurl")
        if given:
            try:
                url = address(given)
            except FetchError:
                skipped += 1
            else:
                if len(feeds) >= MAX_FEEDS:
                    raise InvalidInput(
                        "This list has more than %(count)s feeds.", field="opml", count=MAX_FEEDS
                    )
                feeds.setdefault(url, Outline(url, title, folder, outline.get("htmlUrl")))
        inner = folder if given else title or folder
        waiting.extend((child, inner) for child in reversed(outline.findall("outline")))

    return Imported(tuple(feeds.values()), skipped)


def write(title: str, feeds: Iterable[Outline], now: datetime | None = None) -> bytes:
    """An OPML 2.0 document of ``feeds``, each folder an outline of its own."""
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = SubElement(root, "body")
    folders: dict[str, Element] = {}
    for feed in feeds:
        parent = body
        if feed.folder:
            if feed.folder not in folders:
                folders[feed.folder] = SubElement(
                    body, "outline", text=feed.folder, title=feed.folder
                )
            parent = folders[feed.folder]
        attributes = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attributes["title"] = feed.title
        if feed.site:
            attributes["htmlUrl"] = feed.site
        SubElement(parent, "outline", attributes)
    written: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return written
