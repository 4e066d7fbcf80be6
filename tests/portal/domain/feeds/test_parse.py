"""Reading feeds: entities never expanded, JSON Feed like RSS and Atom, each entry's identity."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from portal.domain.feeds.parse import NotAFeed, parse

_LAUGHS = "".join(
    f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)
)  # ten to the ninth "lol"s, were it expanded
BOMB = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY l0 "lol">{_LAUGHS}]>
<rss version="2.0"><channel><title>&l9;</title>
<item><guid>1</guid><title>One &l9;</title><description>&l9;</description></item>
</channel></rss>""".encode()
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/hostname">
<!ENTITY remote SYSTEM "http://127.0.0.1:1/x">]>
<rss version="2.0"><channel><title>&secret;</title>
<item><guid>1</guid><title>&remote;</title><description>&secret;</description></item>
</channel></rss>"""


@pytest.mark.parametrize("body", [BOMB, XXE], ids=["billion-laughs", "external-entity"])
def test_declared_entities_are_recorded_and_never_expanded(body: bytes) -> None:
    feed = parse(body, url="https://example.org/feed")
    assert feed.error == "The feed declares its own XML entities; they were not expanded."
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    words = " ".join([feed.title, entry.title, entry.html, entry.text])
    assert "lollol" not in words and len(words) < 500
    with open("/etc/hostname", encoding="utf-8") as hostname:
        assert hostname.read().strip() not in words.split()


def test_a_json_feed_reads_like_any_other() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Ada &amp; friends",
        "home_page_url": "/",
        "feed_url": "https://example.org/feed.json",
        "authors": [{"name": "Ada"}],
        "items": [
            {
                "id": 42,
                "url": "/posts/42",
                "title": "Engines",
                "content_html": '<p onclick="x()">See <a href="/notes">notes</a></p>',
                "date_published": "2026-12-01T08:00:00Z",
                "date_modified": "2026-12-02T09:30:00+01:00",
                "image": "img/cover.webp",
            },
            {"url": "https://example.org/posts/43", "content_text": "First.\n\nSecond <b>."},
            {"content_text": "No id, no address."},
            "not an item",
        ],
    }
    feed = parse(json.dumps(document).encode(), url="https://example.org/feed.json")
    assert feed.kind == "json" and feed.title == "Ada & friends"
    assert feed.site == "https://example.org/" and feed.error is None
    first, second, third = feed.entries
    assert first.key == "42" and first.link == "https://example.org/posts/42"
    assert first.html == (
        '<p>See <a href="https://example.org/notes" rel="noopener noreferrer nofollow">'
        "notes</a></p>"
    )
    assert first.author == "Ada" and first.image == "https://example.org/posts/img/cover.webp"
    assert first.published == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert first.updated == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert second.key == "https://example.org/posts/43" and second.guid is None
    assert second.html == "<p>First.</p><p>Second &lt;b&gt;.</p>"
    assert third.key.startswith("sha256:") and third.text == "No id, no address."


def test_an_entry_is_known_by_its_guid_then_link_then_content() -> None:
    def rss(items: str) -> bytes:
        return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()

    feed = parse(
        rss(
            '<item><guid isPermaLink="false">g</guid><link>https://e.org/1</link><title>A</title></item>'
            "<item><link>/2</link><title>B</title></item>"
            "<item><title>C</title><description>words</description></item>"
        ),
        url="https://e.org/feed",
    )
    assert [entry.key for entry in feed.entries][:2] == ["g", "https://e.org/2"]
    assert feed.entries[2].key == "sha256:" + feed.entries[2].digest
    edited = parse(
        rss(
            '<item><guid isPermaLink="false">g</guid><link>https://e.org/1</link>'
            "<title>A, edited</title></item>"
        ),
        url="https://e.org/feed",
    )
    assert edited.entries[0].key == "g"
    assert edited.entries[0].digest != feed.entries[0].digest


def test_the_feeds_own_hints_for_polling_are_read() -> None:
    body = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>T</title><ttl>90</ttl><sy:updatePeriod>daily</sy:updatePeriod>
<sy:updateFrequency>4</sy:updateFrequency></channel></rss>"""
    assert parse(body, url="https://e.org/feed").poll_hint == 6 * 3600


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><head><title>A page</title></head><body>Hi</body></html>",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"",
        b'{"version": "https://jsonfeed.org/version/2", "items": []}',
        b'{"items": [' * 100_000,
    ],
    ids=["html", "png", "empty", "json-not-a-feed", "json-too-deep"],
)
def test_what_is_no_feed_is_said_so(body: bytes) -> None:
    with pytest.raises(NotAFeed):
        parse(body, url="https://e.org/feed")


def test_addresses_in_html_are_resolved_against_the_base_of_their_own_element():
    """xml:base on the content, else on the feed, else the address the feed came from."""
    atom = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/"><title>T</title>
<entry><id>1</id><title>a</title><link href="one.html"/>
<content type="html" xml:base="https://cdn.example/img/">&lt;img src="cat.png"&gt;
&lt;a href="../x"&gt;x&lt;/a&gt;</content></entry>
<entry><id>2</id><title>b</title><link href="two.html"/>
<summary type="html">&lt;a href="three.html"&gt;3&lt;/a&gt;</summary></entry></feed>"""
    one, two = parse(atom, url="https://feeds.example/atom.xml").entries
    assert one.link == "https://blog.example/posts/one.html"
    assert 'src="https://cdn.example/img/cat.png"' in one.html
    assert 'href="https://cdn.example/x"' in one.html
    assert 'href="https://blog.example/posts/three.html"' in two.html
    rss = (
        b'<rss version="2.0"><channel><title>R</title><item><guid>1</guid>'
        b'<description>&lt;img src="/i.png"&gt;</description></item></channel></rss>'
    )
    (only,) = parse(rss, url="https://r.example/feed.xml").entries
    assert 'src="https://r.example/i.png"' in only.html
