"""The unified feed served out again, so that any reader app can follow it: Atom (RFC 4287)
and JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written from the same entries.

- Each entry keeps its own link and gets a stable id of the portal's (a ``tag:`` URI, RFC
  4151, from the portal's host and the entry's id), so a reader app that saw it once knows it
  again after an edit.
- The HTML is the stored one, already sanitised at ingest (:mod:`.sanitize`); Atom carries it
  as ``type="html"`` text, which the XML writer escapes, so nothing in it can break the
  document.
- Where the entry came from is said in words readers show: the source's title as the
  entry's author when the entry names none, and in JSON Feed an ``_portal`` extension with
  the network and the person's number (JSON Feed's rule for extensions: a leading ``_``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from portal.domain.feeds.read import Item
from portal.domain.feeds.sanitize import first_words

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ET.register_namespace("", ATOM)


@dataclass(frozen=True, slots=True)
class Channel:
    """What the feed says of itself."""

    title: str
    self_url: str
    """Where this document is served (the private address)."""
    home_url: str
    """The page a person reads it on."""


def tag_uri(base_url: str, entry_id: int) -> str:
    """The entry's id in the portal's own feeds, stable for as long as the entry is kept."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},2026:feed-entry:{entry_id}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(channel: Channel, items: Sequence[Item]) -> bytes:
    """An Atom feed document of ``items`` (newest first, as given)."""

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", channel.self_url)
    sub(feed, "title", channel.title)
    newest = max((item.updated_at or item.sort_at for item in items), default=None)
    sub(feed, "updated", _stamp(newest or datetime.now(UTC)))
    sub(feed, "link", rel="self", type="application/atom+xml", href=channel.self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=channel.home_url)
    sub(feed, "generator", "Portal")
    for item in items:
        entry = sub(feed, "entry")
        sub(entry, "id", tag_uri(channel.self_url, item.id))
        sub(entry, "title", item.title or first_words(item.text))
        if item.link:
            sub(entry, "link", rel="alternate", href=item.link)
        sub(entry, "updated", _stamp(item.updated_at or item.published_at or item.sort_at))
        sub(entry, "published", _stamp(item.published_at or item.sort_at))
        author = sub(entry, "author")
        sub(author, "name", item.author or item.source_title or item.network)
        sub(entry, "category", term=item.network)
        source = sub(entry, "source")
        sub(source, "title", item.source_title)
        if item.html:
            sub(entry, "content", item.html, type="html")
        elif item.text:
            sub(entry, "content", item.text, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def json_feed(channel: Channel, items: Sequence[Item]) -> bytes:
    """A JSON Feed 1.1 document of ``items`` (newest first, as given)."""
    document = {
        "version": JSON_FEED_VERSION,
        "title": channel.title,
        "home_page_url": channel.home_url,
        "feed_url": channel.self_url,
        "items": [_json_item(channel, item) for item in items],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _json_item(channel: Channel, item: Item) -> dict[str, object]:
    out: dict[str, object] = {"id": tag_uri(channel.self_url, item.id)}
    if item.link:
        out["url"] = item.link
    if item.title:
        out["title"] = item.title
    if item.html:
        out["content_html"] = item.html
    if item.text:
        out["content_text"] = item.text
    if item.image:
        out["image"] = item.image
    out["date_published"] = _stamp(item.published_at or item.sort_at)
    if item.updated_at:
        out["date_modified"] = _stamp(item.updated_at)
    out["authors"] = [{"name": item.author or item.source_title or item.network}]
    out["tags"] = [item.network]
    number = item.person.number if item.person else None
    out["_portal"] = {"source": item.source_title, "network": item.network, "number": number}
    return out
