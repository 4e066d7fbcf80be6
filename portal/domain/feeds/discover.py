"""From what a person types to a feed: an address as typed (``example.org``, ``feed:`` and
``feed://`` addresses), and a web page's own feeds (``<link rel="alternate">``, in the page's
head, resolved against its ``<base>``).

:func:`find` fetches what was given: a feed is taken as it is; an HTML page leads to the
first of its feeds that reads as one (:func:`named_by`, which a poll uses too, for a source
first given as a page). Every fetch goes through :func:`.fetch.fetch`, so the
address rules, limits and redirects are the same as for polling.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

from portal.domain.feeds.fetch import Fetched, FetchError, check_url, fetch
from portal.domain.feeds.parse import NotAFeed, ParsedFeed, parse
from portal.errors import N_
from portal.net import GuardedClient

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rss",
    "text/xml": "rss",
    "application/xml": "rss",
}
MAX_ALTERNATES = 10
"""The most of a page's feeds tried, in the page's order."""
PAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Alternate:
    url: str
    title: str
    type: str


@dataclass(frozen=True, slots=True)
class Found:
    """A feed found from what was given: where it is, its answer and what it holds."""

    url: str
    fetched: Fetched
    feed: ParsedFeed


def address(typed: str) -> str:
    """What a person typed, as the web address to fetch: ``feed:`` and ``feed://`` addresses
    (RFC-less but common, https://en.wikipedia.org/wiki/Feed_URI_scheme) unwrapped, a bare
    host given ``https://``. :class:`FetchError` when it cannot be an address."""
    given = typed.strip()
    if len(given) > 2000 or not given:
        raise FetchError(N_("This is not a web address."), refused=True)
    lowered = given.lower()
    if lowered.startswith("feed://"):
        given = "http://" + given[len("feed://") :]
    elif lowered.startswith("feed:"):
        given = given[len("feed:") :]
    if "://" not in given:
        _, colon, rest = given.partition(":")
        if not colon or rest.split("/", 1)[0].isdigit():  # a host alone, or a host and port
            given = "https://" + given
    return check_url(given)


class _Alternates(HTMLParser):
    """The ``<base>`` and the feed ``<link>``s of a page, until its body starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.found: list[tuple[str, str, str]] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "body":
            self.done = True
            return
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"].strip()
        if tag != "link" or "alternate" not in values.get("rel", "").lower().split():
            return
        kind = values.get("type", "").split(";", 1)[0].strip().lower()
        href = values.get("href", "").strip()
        if kind in FEED_TYPES and href:
            self.found.append((href, values.get("title", "").strip()[:200], kind))


def alternates(page: bytes, url: str) -> list[Alternate]:
    """The feeds a page names in its head, as absolute addresses, without repeats."""
    reader = _Alternates()
    reader.feed(page[:PAGE_BYTES].decode("utf-8", "replace"))
    base = urljoin(url, reader.base) if reader.base else url
    seen: dict[str, Alternate] = {}
    for href, title, kind in reader.found:
        try:
            absolute = address(urljoin(base, href))
        except FetchError:
            continue
        seen.setdefault(absolute, Alternate(absolute, title, kind))
    return list(seen.values())[:MAX_ALTERNATES]


async def find(http: GuardedClient, typed: str) -> Found:
    """The feed at what a person typed, or named by the page there. :class:`FetchError` when
    the address cannot be fetched, or holds no feed and names none that can be read."""
    url = address(typed)
    fetched = await fetch(http, url)
    try:
        return Found(url, fetched, await _parse(fetched))
    except NotAFeed:
        pass
    return await named_by(http, fetched)


async def named_by(http: GuardedClient, fetched: Fetched) -> Found:
    """The first feed that reads as one among those the page in ``fetched`` names.
    :class:`FetchError` when it names none, or none can be read."""
    tried = 0
    for alternate in await asyncio.to_thread(alternates, fetched.body, fetched.url):
        tried += 1
        try:
            candidate = await fetch(http, alternate.url)
            return Found(alternate.url, candidate, await _parse(candidate))
        except (FetchError, NotAFeed):
            continue
    if tried:
        raise FetchError(N_("The page names feeds, but none of them could be read."))
    raise FetchError(N_("There is no feed at this address, and the page names none."))


async def _parse(fetched: Fetched) -> ParsedFeed:
    """Parsing and sanitising take milliseconds to seconds of CPU: in a thread, off the loop."""
    return await asyncio.to_thread(
        parse, fetched.body, url=fetched.url, content_type=fetched.content_type
    )
