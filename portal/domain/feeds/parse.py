"""A fetched feed read into entries: RSS 0.9x, 1.0 and 2.0 and Atom through feedparser, JSON
Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) through a reader of our own, both
into the same :class:`ParsedFeed`.

- feedparser resolves relative links against the feed's base (``xml:base``, else the address
  the feed came from, passed as ``Content-Location``) and finds the encoding from the BOM, the
  XML declaration and the ``Content-Type``. Its own sanitising is off: every piece of HTML goes
  through :func:`.sanitize.clean` instead, the one rule set of the portal.
- A feed that is not well formed yields what feedparser recovers, with the error kept in
  words (:attr:`ParsedFeed.error`).
- Entities: feedparser removes the DOCTYPE before parsing, so entities a feed declares are
  never expanded — neither a "billion laughs" bomb nor an external entity (XXE) that names a
  file or an address. Such a feed is recorded as such, with the error, and read without them.
- Each entry gets a :attr:`ParsedEntry.key`, its identity within its source: the guid (or
  JSON Feed ``id``), else the link, else a hash of its content; and a
  :attr:`ParsedEntry.digest` of what a reader sees, to tell an updated entry from the same.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from connectors._http import parse_json
from portal.domain.feeds import schedule
from portal.domain.feeds.sanitize import clean, text
from portal.errors import N_

MAX_ENTRIES = 500
"""The most entries read from one fetch (the first ones: feeds list the newest first)."""
TITLE_LENGTH = 500
_DECLARES_ENTITIES = re.compile(rb"<!ENTITY", re.I)
_JSON_TYPES = ("application/feed+json", "application/json")


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    key: str
    guid: str | None
    link: str | None
    title: str
    html: str
    """Sanitised."""
    text: str
    """The words alone, for search and previews."""
    author: str | None
    published: datetime | None
    updated: datetime | None
    image: str | None
    digest: str


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    kind: str
    """``rss``, ``atom`` or ``json`` (with feedparser's version where it knows it)."""
    title: str
    site: str | None
    entries: tuple[ParsedEntry, ...]
    error: str | None
    """What was wrong with the feed, in words (a message id), when something was."""
    error_params: dict[str, Any]
    poll_hint: float | None
    """Seconds between updates the feed asks for (``<ttl>``, ``sy:updatePeriod``)."""


class NotAFeed(ValueError):
    """Nothing in the document reads as a feed."""


def parse(body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """The feed in ``body``, fetched from ``url`` with ``content_type``. :class:`NotAFeed`
    when it holds neither a feed nor any entry (an HTML page, an image, garbage)."""
    if _is_json(body, content_type):
        return _json_feed(body, url)
    return _xml_feed(body, url, content_type)


def _is_json(body: bytes, content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in _JSON_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


# -- RSS and Atom -------------------------------------------------------------------------------


def _xml_feed(body: bytes, url: str, content_type: str) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    found = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=True
    )
    channel = found.get("feed", {})
    version = str(found.get("version") or "")
    if not version and not found.get("entries") and not channel.get("title"):
        raise NotAFeed(url)
    error: str | None = None
    params: dict[str, Any] = {}
    if _DECLARES_ENTITIES.search(body[:65536]):
        error = N_("The feed declares its own XML entities; they were not expanded.")
    elif found.get("bozo"):
        error = N_("The feed is not well formed (%(problem)s); what could be read was kept.")
        params = {"problem": _problem(found.get("bozo_exception"))}
    site = _web(channel.get("link"), url)
    entries = tuple(_xml_entry(raw, url) for raw in found.get("entries", [])[:MAX_ENTRIES])
    hint = schedule.interval_hint(
        schedule.ttl(channel.get("ttl")),
        schedule.update_period(channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")),
    )
    return ParsedFeed(
        kind="atom" if version.startswith("atom") else "rss",
        title=_title(channel.get("title")) or urlsplit(url).hostname or url,
        site=site,
        entries=entries,
        error=error,
        error_params=params,
        poll_hint=hint,
    )


def _problem(exception: object) -> str:
    words = str(exception or "").strip()
    return words[:200] or type(exception).__name__


def _xml_entry(raw: Any, url: str) -> ParsedEntry:
    base = _web(raw.get("link"), url) or url
    contents = raw.get("content") or []
    html = ""
    if contents:
        html = max((part.get("value") or "" for part in contents), key=len)
    if not html:
        html = raw.get("summary") or ""
    if raw.get("summary_detail", {}).get("type") == "text/plain" and not contents:
        html = _plain(html)
    images = [
        link.get("href")
        for link in raw.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    images += [media.get("url") for media in raw.get("media_thumbnail", []) or []]
    return _entry(
        guid=raw.get("id") or raw.get("guid"),
        link=raw.get("link"),
        title=raw.get("title") or "",
        html=html,
        base=base,
        author=raw.get("author"),
        # Read past FeedParserDict's lookups: asked for a missing "updated_parsed", it answers
        # with "published_parsed" and a deprecation warning.
        published=_struct_time(dict.get(raw, "published_parsed")),
        updated=_struct_time(dict.get(raw, "updated_parsed")),
        image=next((image for image in images if image), None),
        url=url,
    )


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


# -- JSON Feed ----------------------------------------------------------------------------------


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        document = parse_json(body)
    except ValueError as unreadable:
        raise NotAFeed(url) from unreadable
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/1"
    ):
        raise NotAFeed(url)
    items = document.get("items")
    error: str | None = None
    if not isinstance(items, list):
        items = []
        error = N_("The feed has no list of items.")
    feed_url = _web(document.get("feed_url"), url) or url
    # An item without an id (which the format requires, and some feeds leave out) is kept
    # all the same, known by its address or its content like an RSS item without a guid.
    entries = [
        _json_entry(item, feed_url, document)
        for item in items[:MAX_ENTRIES]
        if isinstance(item, dict)
    ]
    return ParsedFeed(
        kind="json",
        title=_title(document.get("title")) or urlsplit(url).hostname or url,
        site=_web(document.get("home_page_url"), url),
        entries=tuple(entries),
        error=error,
        error_params={},
        poll_hint=None,
    )


def _json_entry(item: dict[str, Any], base: str, document: dict[str, Any]) -> ParsedEntry:
    html = _string(item.get("content_html"))
    if not html:
        html = _plain(_string(item.get("content_text")) or _string(item.get("summary")))
    authors = item.get("authors") or document.get("authors")
    if not isinstance(authors, list):
        single = item.get("author") or document.get("author")
        authors = [single] if isinstance(single, dict) else []
    names = [_string(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    link = _string(item.get("url")) or _string(item.get("external_url"))
    given = item.get("id")
    return _entry(
        guid=str(given) if isinstance(given, (str, int, float)) else None,
        link=link or None,
        title=_string(item.get("title")),
        html=html,
        base=_web(link, base) or base,
        author=", ".join(names) or None,
        published=_rfc3339(item.get("date_published")),
        updated=_rfc3339(item.get("date_modified")),
        image=_string(item.get("image")) or _string(item.get("banner_image")) or None,
        url=base,
    )


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- both ---------------------------------------------------------------------------------------


def _entry(
    *,
    guid: Any,
    link: Any,
    title: str,
    html: str,
    base: str,
    author: Any,
    published: datetime | None,
    updated: datetime | None,
    image: str | None,
    url: str,
) -> ParsedEntry:
    link_url = _web(link, url)
    safe = clean(html, base)
    shown_title = _title(title)
    digest = hashlib.sha256(
        "\x00".join((shown_title, link_url or "", safe)).encode("utf-8", "replace")
    ).hexdigest()
    guid_text = str(guid).strip()[:1000] if guid else None
    key = guid_text or link_url or f"sha256:{digest}"
    return ParsedEntry(
        key=key,
        guid=guid_text,
        link=link_url,
        title=shown_title,
        html=safe,
        text=text(safe),
        author=(str(author).strip()[:200] or None) if author else None,
        published=published,
        updated=updated,
        image=_web(image, base),
        digest=digest,
    )


def _title(value: Any) -> str:
    """A title as plain text on one line (feeds put markup and entities in titles)."""
    if not isinstance(value, str):
        return ""
    return text(value)[:TITLE_LENGTH]


def _plain(words: str) -> str:
    """Plain text as HTML paragraphs."""
    return "".join(
        f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>"
        for part in re.split(r"\n\s*\n", words.strip())
        if part.strip()
    )


def _web(value: Any, base: str) -> str | None:
    """``value`` as an absolute http(s) address, resolved against ``base``; else ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        absolute = urljoin(base, value.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute[:2000]
