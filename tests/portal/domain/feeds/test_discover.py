"""From what a person types to a feed, and subscription lists in and out (OPML)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from connectors._addresses import AddressPolicy
from portal.domain.feeds import opml
from portal.domain.feeds.discover import address, alternates, find
from portal.domain.feeds.fetch import FetchError
from portal.errors import InvalidInput
from portal.net import guarded_client
from tests.fixtures.feeds import FeedServer, serving, static

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Ada's notes</title>
<link href="https://example.org/"/><id>urn:x</id><updated>2026-12-01T00:00:00Z</updated>
<entry><id>urn:1</id><title>Engines</title><updated>2026-12-01T00:00:00Z</updated></entry>
</feed>"""


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("example.org", "https://example.org"),
        ("  example.org/blog/feed.xml ", "https://example.org/blog/feed.xml"),
        ("example.org:8080/rss", "https://example.org:8080/rss"),
        ("feed:https://example.org/rss", "https://example.org/rss"),
        ("feed://example.org/rss", "http://example.org/rss"),
        ("FEED:http://example.org/rss", "http://example.org/rss"),
        ("http://example.org/rss", "http://example.org/rss"),
    ],
)
def test_what_people_type_becomes_an_address(typed: str, url: str) -> None:
    assert address(typed) == url


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "javascript:alert(1)", "file:///etc/passwd", "feed:file:///etc/passwd",
     "gopher://example.org/", "data:text/html,hi", "https://" + "a" * 2000],
)  # fmt: skip
def test_what_cannot_be_an_address_is_refused(typed: str) -> None:
    with pytest.raises(FetchError):
        address(typed)


def test_a_page_names_its_feeds_in_its_head() -> None:
    page = b"""<!doctype html><html><head><base href="/blog/">
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Posts" href="feed.xml">
<link rel="alternate nofollow" type="application/atom+xml; charset=utf-8" href="/atom">
<link rel="alternate" type="application/feed+json" href="https://example.org/feed.json">
<link rel="alternate" type="text/html" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="/blog/feed.xml">
</head><body><link rel="alternate" type="application/rss+xml" href="/late.xml"></body></html>"""
    found = alternates(page, "https://example.org/about")
    assert [(a.url, a.title, a.type) for a in found] == [
        ("https://example.org/blog/feed.xml", "Posts", "application/rss+xml"),
        ("https://example.org/atom", "", "application/atom+xml"),
        ("https://example.org/feed.json", "", "application/feed+json"),
    ]


@pytest.fixture
async def site() -> AsyncIterator[FeedServer]:
    page = b"""<html><head><title>Ada</title>
<link rel="alternate" type="application/rss+xml" href="/missing.xml">
<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head><body></body></html>"""
    broken = b'<html><head><link rel="alternate" type="application/rss+xml" href="/missing">'
    async with serving() as server:
        server.routes.update(
            {
                "/": static(page, {"content-type": "text/html; charset=utf-8"}),
                "/atom.xml": static(ATOM, {"content-type": "application/atom+xml"}),
                "/broken": static(broken, {"content-type": "text/html"}),
                "/plain": static(b"<html><body>No feeds</body></html>"),
            }
        )
        yield server


async def test_a_feed_is_found_from_its_page_or_its_own_address(site: FeedServer) -> None:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        from_page = await find(http, site.url("/"))
        direct = await find(http, f"feed:{site.url('/atom.xml')}")
    # The page's first feed is missing: the next one is taken.
    assert from_page.url == site.url("/atom.xml")
    assert from_page.feed.title == "Ada's notes" and len(from_page.feed.entries) == 1
    assert direct.url == site.url("/atom.xml") and direct.feed.kind == "atom"


@pytest.mark.parametrize(
    ("path", "words"),
    [("/plain", "names none"), ("/broken", "none of them could be read")],
)
async def test_a_page_without_a_readable_feed_says_why(
    site: FeedServer, path: str, words: str
) -> None:
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        with pytest.raises(FetchError, match=words):
            await find(http, site.url(path))


async def test_a_page_on_a_private_address_is_refused() -> None:
    async with guarded_client() as http:
        with pytest.raises(FetchError) as refused:
            await find(http, "http://127.0.0.1:9/")
    assert refused.value.refused


# -- OPML ---------------------------------------------------------------------------------------

LIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Exported</title></head><body>
  <outline text="News">
    <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"
             htmlUrl="https://www.lemonde.fr/"/>
    <outline text="Italy"><outline type="rss" title="ANSA" xmlUrl="feed://www.ansa.it/rss.xml"/>
    </outline>
  </outline>
  <outline type="rss" text="Ada" xmlUrl="https://example.org/atom.xml"/>
  <outline type="rss" text="Again" xmlUrl="https://example.org/atom.xml"/>
  <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
  <outline type="rss" text="Nothing" xmlUrl="javascript:alert(1)"/>
  <outline text="Empty folder"/>
</body></opml>"""


def test_a_list_is_read_with_its_folders() -> None:
    imported = opml.read(LIST)
    assert imported.feeds == (
        opml.Outline(
            "https://www.lemonde.fr/rss/une.xml", "Le Monde", "News", "https://www.lemonde.fr/"
        ),
        opml.Outline("http://www.ansa.it/rss.xml", "ANSA", "Italy"),
        opml.Outline("https://example.org/atom.xml", "Ada", None),
    )
    assert imported.skipped == 2


def test_a_written_list_reads_back_the_same() -> None:
    feeds = opml.read(LIST).feeds
    written = opml.write("Portal", feeds, now=datetime(2026, 12, 6, tzinfo=UTC))
    assert written.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"<dateCreated>Sun, 06 Dec 2026 00:00:00 GMT</dateCreated>" in written
    assert opml.read(written).feeds == feeds


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<html><body>no</body></html>",
        b"<opml version='2.0'><head/></opml>",
        b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>
<outline text="&b;" xmlUrl="https://e.org/"/></body></opml>""",
        b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<opml><body><outline text="&x;" xmlUrl="https://e.org/"/></body></opml>""",
        b"<opml><body>" + b"<outline>" * 100,
    ],
    ids=["empty", "html", "no-body", "entities", "external-entity", "unclosed"],
)
def test_what_is_not_a_list_is_refused_in_words(document: bytes) -> None:
    with pytest.raises(InvalidInput, match="not an OPML subscription list"):
        opml.read(document)


def test_outlines_nested_as_deep_as_a_file_allows_are_read() -> None:
    depth = 120_000
    nested = b"<outline text='f'>" * depth + b"<outline xmlUrl='https://e.org/deep'/>"
    document = b"<opml><body>" + nested + b"</outline>" * depth + b"</body></opml>"
    assert opml.read(document).feeds == (opml.Outline("https://e.org/deep", "", "f"),)


def test_a_list_too_large_or_too_long_is_refused() -> None:
    with pytest.raises(InvalidInput, match="larger than 5 MB"):
        opml.read(b" " * (opml.MAX_BYTES + 1))
    many = b"".join(b'<outline xmlUrl="https://e.org/%d"/>' % n for n in range(opml.MAX_FEEDS + 1))
    with pytest.raises(InvalidInput, match="more than 5000 feeds"):
        opml.read(b"<opml><body>" + many + b"</body></opml>")
