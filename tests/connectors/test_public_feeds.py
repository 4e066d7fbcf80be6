"""Where each network publishes an account's public posts as a feed, from its handle."""

from __future__ import annotations

import pytest

import connectors
from connectors._addresses import AddressPolicy
from connectors.base import Context, InvalidHandle

CASES = [
    ("mastodon", "ada@mastodon.social", "https://mastodon.social/@ada.rss"),
    ("mastodon", "ada@localhost:3000", "http://localhost:3000/@ada.rss"),
    ("pixelfed", "ada@pixelfed.social", "https://pixelfed.social/users/ada.atom"),
    ("github", "ada-lovelace", "https://github.com/ada-lovelace.atom"),
    ("gitlab", "ada.lovelace", "https://gitlab.com/ada.lovelace.atom"),
    ("reddit", "ada_lovelace", "https://www.reddit.com/user/ada_lovelace/.rss"),
    ("tumblr", "ada-lovelace", "https://ada-lovelace.tumblr.com/rss"),
    ("medium", "ada.lovelace", "https://medium.com/feed/@ada.lovelace"),
    (
        "youtube",
        "UCabcdefghijklmnopqrstuv",
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCabcdefghijklmnopqrstuv",
    ),
    # A handle's channel page names its feed (found when the source is first read).
    ("youtube", "adalovelace", "https://www.youtube.com/@adalovelace"),
    ("website", "https://ada.example.org/", "https://ada.example.org/"),
    ("feed", "https://ada.example.org/feed.xml", "https://ada.example.org/feed.xml"),
]


@pytest.mark.parametrize(("network", "handle", "feed"), CASES)
def test_public_feed_of_a_handle(network, handle, feed):
    cls = connectors.get(network)
    assert cls is not None
    assert cls.public_feed(handle) == feed


@pytest.mark.parametrize(
    ("network", "typed"),
    [
        ("mastodon", "@Ada@Mastodon.Social"),
        ("github", "https://github.com/Ada-Lovelace"),
        ("reddit", "u/Ada_Lovelace"),
        ("tumblr", "https://ada-lovelace.tumblr.com/"),
        ("medium", "https://medium.com/@ada.lovelace"),
        ("pixelfed", "https://pixelfed.social/ada"),
        ("youtube", "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv"),
    ],
)
def test_a_handle_as_people_type_it_leads_to_the_same_feed(network, typed):
    cls = connectors.get(network)
    assert cls is not None
    handle = cls.normalize_handle(typed)
    assert (network, handle, cls.public_feed(handle)) in CASES


def test_bluesky_reads_posts_from_the_accounts_own_pds_once_proven():
    bluesky = connectors.get("bluesky")
    assert bluesky is not None
    assert bluesky.public_feed("ada.bsky.social") is None  # only typed in: no DID, no PDS
    known = {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "pds": "https://pds.example.org"}
    assert bluesky.public_feed("ada.bsky.social", known=known) == (
        "https://pds.example.org/xrpc/com.atproto.repo.listRecords"
        "?repo=did%3Aplc%3Aewvi7nxzyoun6zhxrhs64oiz&collection=app.bsky.feed.post&limit=50"
    )


@pytest.mark.parametrize(
    ("network", "handle"),
    [
        ("x", "ada"),
        ("instagram", "ada"),
        ("telegram", "ada_lovelace"),
        ("whatsapp", "+393331234567"),
    ],
)
def test_networks_without_a_public_feed_say_so(network, handle):
    cls = connectors.get(network)
    assert cls is not None
    assert cls.public_feed(handle) is None


def test_a_website_on_this_machine_is_a_handle_only_where_loopback_is_allowed():
    website = connectors.get("website")
    assert website is not None
    with pytest.raises(InvalidHandle):
        website.normalize_handle("http://127.0.0.1:8080/")
    local = Context(addresses=AddressPolicy(allow_loopback=True))
    assert website.normalize_handle("http://127.0.0.1:8080", context=local) == (
        "http://127.0.0.1:8080/"
    )
