"""A fetched feed read into entries: RSS 0.9x, 1.0 and 2.0 and Atom through feedparser, JSON
Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) through a reader of our own, both
into the same :class:`ParsedFeed`.

- feedparser resolves the links of entries against the feed's base (``xml:base``, else the
  address the feed came from, passed as ``Content-Location``) and finds the encoding from the
  BOM, the XML declaration and the ``Content-Type``. Its own sanitising, and its resolving of
  addresses inside HTML, are off: every piece of HTML goes through :func:`.sanitize.clean`
  instead, the one rule set of the portal, which resolves them against the base feedparser
  found for that piece (a tenth of the parsing time saved).
- A feed that is not well formed yields what feedparser recovers, with the error kept in
  words (:attr:`ParsedFeed.error`).
- Entities: feedparser removes the DOCTYPE before parsing, so entities a feed declares are
  never expanded — neither a "billion laughs" bomb nor an external entity (XXE) that names a
  file or an address. Such a feed is recorded as such, with the error, and read without them.
- An AT Protocol account's posts come as its PDS lists them to anyone
  (``com.atproto.repo.listRecords`` of ``app.bsky.feed.post``, JSON of its own): each record
  becomes an entry whose link is the post's bsky.app page and whose HTML is the post's text
  with its links, mentions and tags (facets, placed by UTF-8 byte offsets); replies are left
  out, as on the profile's own list of posts.
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
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import feedparser

from connectors import bluesky
from connectors._http import json_text, parse_json
from connectors.atproto import blob_cid, blob_url
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
        if urlsplit(url).path.endswith(_LIST_RECORDS):
            return _atproto_posts(body, url)
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
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
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
    contents = raw.get("content") or []
    html, detail = "", raw.get("summary_detail") or {}
    if contents:
        detail = max(contents, key=lambda part: len(part.get("value") or ""))
        html = detail.get("value") or ""
    if not html:
        html, detail = raw.get("summary") or "", raw.get("summary_detail") or {}
    # Relative addresses in the HTML are made absolute by clean(), against the base feedparser
    # found for this piece of it (its xml:base, else the feed's address).
    base = _web(detail.get("base"), url) or url
    if raw.get("summary_detail", {}).get("type") == "text/plain" and not contents:
        html = _plain(html)
    images = [
        link.get("href")
        for link in raw.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    images += [media.get("url") for media in raw.get("media_thumbnail", []) or []]
    return make_entry(
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
    html = json_text(item.get("content_html"))
    if not html:
        html = _plain(json_text(item.get("content_text")) or json_text(item.get("summary")))
    authors = item.get("authors") or document.get("authors")
    if not isinstance(authors, list):
        single = item.get("author") or document.get("author")
        authors = [single] if isinstance(single, dict) else []
    names = [json_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    link = json_text(item.get("url")) or json_text(item.get("external_url"))
    given = item.get("id")
    return make_entry(
        guid=str(given) if isinstance(given, (str, int, float)) else None,
        link=link or None,
        title=json_text(item.get("title")),
        html=html,
        base=_web(link, base) or base,
        author=", ".join(names) or None,
        published=_rfc3339(item.get("date_published")),
        updated=_rfc3339(item.get("date_modified")),
        image=json_text(item.get("image")) or json_text(item.get("banner_image")) or None,
        url=base,
    )


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- AT Protocol posts -----------------------------------------------------------------------------

_LIST_RECORDS = "/xrpc/com.atproto.repo.listRecords"


def _atproto_posts(body: bytes, url: str) -> ParsedFeed:
    """A ``com.atproto.repo.listRecords`` answer of ``app.bsky.feed.post`` records."""
    try:
        document = parse_json(body)
    except ValueError as unreadable:
        raise NotAFeed(url) from unreadable
    records = document.get("records") if isinstance(document, dict) else None
    did = parse_qs(urlsplit(url).query).get("repo", [""])[0]
    if not isinstance(records, list) or not did.startswith("did:"):
        raise NotAFeed(url)
    pds = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    entries = [
        entry
        for record in records[:MAX_ENTRIES]
        if (entry := _atproto_post(record, did, pds, url)) is not None
    ]
    return ParsedFeed(
        kind="atproto",
        title="",  # the answer names the account by its DID alone: the source keeps its name
        site=bluesky.profile_url(did),
        entries=tuple(entries),
        error=None,
        error_params={},
        poll_hint=None,
    )


def _atproto_post(record: Any, did: str, pds: str, url: str) -> ParsedEntry | None:
    if not isinstance(record, dict) or not isinstance(record.get("value"), dict):
        return None
    post: dict[str, Any] = record["value"]
    uri = json_text(record.get("uri"))
    link = bluesky.post_url(did, uri)
    if link is None or post.get("$type") != bluesky.POSTS or post.get("reply"):
        return None
    published = _rfc3339(post.get("createdAt"))
    embed = post.get("embed")
    if isinstance(embed, dict) and isinstance(embed.get("media"), dict):
        embed = embed["media"]  # recordWithMedia: a quote with pictures
    images = embed.get("images") if isinstance(embed, dict) else None
    image = None
    if isinstance(images, list) and images and isinstance(images[0], dict):
        cid = blob_cid(images[0].get("image"))
        image = blob_url(pds, did, cid) if cid else None
    return make_entry(
        guid=uri,
        link=link,
        title="",
        html=_rich_text(json_text(post.get("text")), post.get("facets")),
        base=link,
        author=None,
        published=published,
        updated=None,
        image=image,
        url=url,
    )


def _rich_text(words: str, facets: Any) -> str:
    """A post's text as HTML, its facets (links, mentions, tags) made links. Facets are
    placed by UTF-8 byte offsets; one that overlaps another or falls outside the text, or
    cuts a character, is left as plain text."""
    data = words.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    for facet in facets if isinstance(facets, list) else []:
        index = facet.get("index") if isinstance(facet, dict) else None
        features = facet.get("features") if isinstance(facet, dict) else None
        if not isinstance(index, dict) or not isinstance(features, list) or not features:
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        href = _facet_link(features[0])
        if not isinstance(start, int) or not isinstance(end, int) or href is None:
            continue
        if 0 <= start < end <= len(data):
            spans.append((start, end, href))
    out: list[str] = []
    at = 0
    for start, end, href in sorted(spans):
        if start < at:
            continue
        try:
            before, inside = data[at:start].decode(), data[start:end].decode()
        except UnicodeDecodeError:
            continue
        out.append(_lines(before))
        out.append(f'<a href="{html.escape(href)}">{_lines(inside)}</a>')
        at = end
    out.append(_lines(data[at:].decode("utf-8", "replace")))
    return f"<p>{''.join(out)}</p>" if words.strip() else ""


def _facet_link(feature: Any) -> str | None:
    if not isinstance(feature, dict):
        return None
    kind = feature.get("$type")
    if kind == "app.bsky.richtext.facet#link":
        return _web(feature.get("uri"), "https://bsky.app/")
    if kind == "app.bsky.richtext.facet#mention" and json_text(feature.get("did")):
        return bluesky.profile_url(feature["did"])
    if kind == "app.bsky.richtext.facet#tag" and json_text(feature.get("tag")):
        return "https://bsky.app/hashtag/" + quote(feature["tag"], safe="")
    return None


def _lines(words: str) -> str:
    return html.escape(words).replace("\n", "<br>")


# -- both ---------------------------------------------------------------------------------------


def make_entry(
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
