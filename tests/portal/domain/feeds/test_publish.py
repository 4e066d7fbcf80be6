"""The unified feed written out as Atom and JSON Feed: read back by feedparser and by our own
reader, with every entry, its link, its HTML and its stable id, whatever the HTML holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from portal.domain.feeds.parse import parse
from portal.domain.feeds.publish import ATOM_TYPE, JSON_FEED_TYPE, Channel, atom, json_feed, tag_uri
from portal.domain.feeds.read import Item, Person

CHANNEL = Channel(
    title="Ada's feed",
    self_url="https://portal.example/feeds/secret.atom",
    home_url="https://portal.example/feed",
)
NOW = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
TRICKY = (
    '<p>A ]]&gt; and &amp;amp; &lt;/content&gt; <a href="https://e.org/?a=1&amp;b=2">link</a></p>'
)


def _items() -> list[Item]:
    return [
        Item(
            id=7,
            source_id=1,
            source_title="Ada's blog",
            network="feed",
            person=None,
            account_id=None,
            title="Second — with “quotes” & ümlauts",
            link="https://blog.example/2",
            html=TRICKY,
            text="A ]]> and &amp; </content> link",
            author=None,
            image=None,
            published_at=NOW,
            updated_at=NOW + timedelta(hours=1),
            sort_at=NOW,
            read=False,
            starred=False,
        ),
        Item(
            id=3,
            source_id=2,
            source_title="Ada on Bluesky",
            network="bluesky",
            person=Person("80524417", "8052 4417", "Ada"),
            account_id=9,
            title="",
            link=None,
            html="",
            text="A post with no title, only words, on a network that has no titles at all",
            author="ada.bsky.social",
            image=None,
            published_at=None,
            updated_at=None,
            sort_at=NOW - timedelta(days=1),
            read=True,
            starred=False,
        ),
    ]


@pytest.mark.parametrize(
    ("write", "content_type"),
    [(atom, ATOM_TYPE), (json_feed, JSON_FEED_TYPE)],
    ids=["atom", "json"],
)
def test_what_is_written_reads_back_the_same(write, content_type) -> None:
    body = write(CHANNEL, _items())
    feed = parse(body, url=CHANNEL.self_url, content_type=content_type)
    assert feed.error is None
    assert feed.title == "Ada's feed"
    first, second = feed.entries
    assert first.guid == tag_uri(CHANNEL.self_url, 7)
    assert first.link == "https://blog.example/2"
    assert first.title == "Second — with “quotes” & ümlauts"
    assert "&lt;/content&gt;" in first.html and 'href="https://e.org/?a=1&amp;b=2"' in first.html
    assert first.published == NOW
    assert second.guid == tag_uri(CHANNEL.self_url, 3)
    assert second.published == NOW - timedelta(days=1)
    assert second.author == "ada.bsky.social"
    assert "only words" in second.text


def test_feedparser_reads_the_atom_without_complaint() -> None:
    parsed = feedparser.parse(atom(CHANNEL, _items()))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.id for e in parsed.entries] == [tag_uri(CHANNEL.self_url, n) for n in (7, 3)]
    assert parsed.entries[1].title.startswith("A post with no title")
    assert parsed.feed.links[0].href == CHANNEL.self_url


def test_json_feed_names_the_network_and_the_person() -> None:
    document = json.loads(json_feed(CHANNEL, _items()))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == CHANNEL.self_url
    bluesky = document["items"][1]
    assert bluesky["_portal"] == {
        "source": "Ada on Bluesky",
        "network": "bluesky",
        "number": "80524417",
    }
    assert "url" not in bluesky and "title" not in bluesky


def test_an_empty_feed_is_still_a_feed() -> None:
    assert parse(atom(CHANNEL, []), url=CHANNEL.self_url, content_type=ATOM_TYPE).entries == ()
    assert json.loads(json_feed(CHANNEL, []))["items"] == []


def test_the_id_of_an_entry_is_stable_and_names_the_portal() -> None:
    assert tag_uri("https://portal.example/x", 42) == "tag:portal.example,2026:feed-entry:42"
    assert tag_uri("https://portal.example/y", 42) == tag_uri("https://portal.example/x", 42)
