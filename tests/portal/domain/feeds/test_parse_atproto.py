"""An AT Protocol account's posts, as its PDS lists them to anyone, read as a feed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portal.domain.feeds.parse import NotAFeed, parse

EXAMPLES = Path("/work/shared/corpus/atproto/examples")
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
URL = (
    "https://pds.example.org/xrpc/com.atproto.repo.listRecords"
    f"?repo={DID}&collection=app.bsky.feed.post&limit=50"
)


def _record(rkey: str, example: str) -> dict[str, object]:
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q",
        "value": json.loads((EXAMPLES / example).read_text()),
    }


def _answer(*records: dict[str, object]) -> bytes:
    return json.dumps({"records": list(records), "cursor": "3k43tv4rft22g"}).encode()


def test_posts_become_entries_linking_to_their_bsky_app_pages():
    body = _answer(
        _record("3k4duaz5vfs2b", "post_record_facets_mention_link.json"),
        _record("3k43tv4rft22g", "post_record_images.json"),
        _record("3k43tv4rft22h", "post_record_reply.json"),
    )
    feed = parse(body, url=URL, content_type="application/json; charset=utf-8")
    assert feed.kind == "atproto" and feed.site == f"https://bsky.app/profile/{DID}"
    assert feed.title == ""  # the answer names the account by its DID alone
    first, second = feed.entries  # the reply is left out, as on the profile's list of posts
    assert first.link == f"https://bsky.app/profile/{DID}/post/3k4duaz5vfs2b"
    assert first.guid == f"at://{DID}/app.bsky.feed.post/3k4duaz5vfs2b" == first.key
    assert first.published is not None and first.published.year == 2023
    # Facets are placed by UTF-8 bytes: the emoji before the link does not shift it.
    assert '<a href="https://en.wikipedia.org/wiki/CBOR"' in first.html
    assert ">https://en.wikipedia.org/wiki/CBOR</a>" in first.html
    assert '<a href="https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz"' in first.html
    assert ">@atproto.com</a>" in first.html
    assert first.text.startswith("✨ example mentioning @atproto.com")
    assert second.image == (
        "https://pds.example.org/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3A"
        "ewvi7nxzyoun6zhxrhs64oiz&cid=bafkreibabalobzn6cd366ukcsjycp4yymjymgfxcv6xczmlgpemzkz3cfa"
    )


def test_markup_in_a_post_is_text_and_bad_facets_are_left_plain():
    record = {
        "uri": f"at://{DID}/app.bsky.feed.post/3k4duaz5vfs2c",
        "cid": "x",
        "value": {
            "$type": "app.bsky.feed.post",
            "text": "<script>x()</script> é link",
            "createdAt": "2024-01-01T00:00:00Z",
            "facets": [
                # cuts "é" in two: left as text
                {
                    "index": {"byteStart": 22, "byteEnd": 23},
                    "features": [
                        {"$type": "app.bsky.richtext.facet#link", "uri": "https://b.example/"}
                    ],
                },
                {
                    "index": {"byteStart": 24, "byteEnd": 999},
                    "features": [
                        {"$type": "app.bsky.richtext.facet#link", "uri": "https://a.example/"}
                    ],
                },
                {
                    "index": {"byteStart": 24, "byteEnd": 28},
                    "features": [
                        {"$type": "app.bsky.richtext.facet#link", "uri": "javascript:x()"}
                    ],
                },
            ],
        },
    }
    (entry,) = parse(_answer(record), url=URL).entries
    assert "<script>" not in entry.html and "&lt;script&gt;" in entry.html
    assert "<a " not in entry.html and entry.text == "<script>x()</script> é link"


def test_records_of_another_repository_are_not_taken_for_its_posts():
    other = _record("3k4duaz5vfs2b", "post_record_basic.json")
    other["uri"] = "at://did:plc:someoneelse/app.bsky.feed.post/3k4duaz5vfs2b"
    assert parse(_answer(other), url=URL).entries == ()


@pytest.mark.parametrize("body", [b'{"error": "InvalidRequest"}', b"[]", b"{not json"])
def test_an_answer_without_records_is_not_a_feed(body):
    with pytest.raises(NotAFeed):
        parse(body, url=URL, content_type="application/json")
