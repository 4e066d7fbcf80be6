"""Bluesky publishing: facets on tricky text (offsets checked on the UTF-8 bytes), record keys
derived from the idempotency key, and posts, pictures, threads and deletion on a real PDS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from connectors.atproto import DPoP, is_valid_tid, tid
from connectors.base import (
    AuthRevoked,
    Credentials,
    Draft,
    Media,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
    Thread,
    Upload,
    capabilities,
)
from connectors.bluesky import Bluesky, facets, mentioned_handles, post_record, record_key
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork, linked_bluesky
from tests.fixtures.images import png

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
OTHER_DID = "did:plc:kvwvcn5iqfooopmyzvb4qzba"


def _spans(text: str, dids: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """Each facet as (the text its byte slice covers, its kind, its value)."""
    data = text.encode("utf-8")
    found = []
    for facet in facets(text, dids):
        index = facet["index"]
        covered = data[index["byteStart"] : index["byteEnd"]].decode("utf-8")
        (feature,) = facet["features"]
        kind = feature["$type"].rsplit("#", 1)[1]
        value = feature.get("uri") or feature.get("did") or feature.get("tag")
        found.append((covered, kind, value))
    return found


# -- facets -----------------------------------------------------------------------------------


def test_the_docs_example_gets_the_offsets_of_the_docs() -> None:
    # The example record of https://docs.bsky.app/docs/advanced-guides/post-richtext.
    text = (
        "✨ example mentioning @atproto.com to share the URL 👨‍❤️‍👨 "
        "https://en.wikipedia.org/wiki/CBOR."
    )
    assert facets(text, {"atproto.com": DID}) == [
        {
            "index": {"byteStart": 23, "byteEnd": 35},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": DID}],
        },
        {
            "index": {"byteStart": 74, "byteEnd": 108},
            "features": [
                {
                    "$type": "app.bsky.richtext.facet#link",
                    "uri": "https://en.wikipedia.org/wiki/CBOR",
                }
            ],
        },
    ]


LINK, MENTION, TAG = "link", "mention", "tag"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "👨‍👩‍👧‍👦🏳️‍🌈 https://example.com/a",
            [("https://example.com/a", LINK, "https://example.com/a")],
            id="zwj-emoji-before-a-link",
        ),
        pytest.param(
            "Cafe\u0301 #cafe\u0301 n\u0303 https://example.com",
            [
                ("#cafe\u0301", TAG, "cafe\u0301"),
                ("https://example.com", LINK, "https://example.com"),
            ],
            id="combining-marks",
        ),
        pytest.param(
            "مرحبا بالعالم https://example.com/ar و #مرحبا",
            [
                ("https://example.com/ar", LINK, "https://example.com/ar"),
                ("#مرحبا", TAG, "مرحبا"),
            ],
            id="arabic",
        ),
        pytest.param(
            "\u200fשלום @ada.test! ראו example.org/עמוד.",
            [
                ("@ada.test", MENTION, DID),
                ("example.org/עמוד", LINK, "https://example.org/עמוד"),
            ],
            id="hebrew-with-a-direction-mark",
        ),
        pytest.param(
            "https://start.example.com/x in the middle, and at the end https://end.example.org",
            [
                ("https://start.example.com/x", LINK, "https://start.example.com/x"),
                ("https://end.example.org", LINK, "https://end.example.org"),
            ],
            id="links-at-the-very-start-and-end",
        ),
        pytest.param(
            "(see https://example.com/a), https://example.com/b. Or https://example.com/c!? "
            '"https://example.com/d" https://example.com/e...',
            [
                ("https://example.com/a", LINK, "https://example.com/a"),
                ("https://example.com/b", LINK, "https://example.com/b"),
                ("https://example.com/c", LINK, "https://example.com/c"),
                ("https://example.com/d", LINK, "https://example.com/d"),
                ("https://example.com/e", LINK, "https://example.com/e"),
            ],
            id="links-followed-by-punctuation",
        ),
        pytest.param(
            "https://en.wikipedia.org/wiki/Bracket_(disambiguation) and "
            "(https://example.com/?q=(a)).",
            [
                (
                    "https://en.wikipedia.org/wiki/Bracket_(disambiguation)",
                    LINK,
                    "https://en.wikipedia.org/wiki/Bracket_(disambiguation)",
                ),
                ("https://example.com/?q=(a)", LINK, "https://example.com/?q=(a)"),
            ],
            id="brackets-inside-a-link-stay",
        ),
        pytest.param(
            "(@ada.test), @bob.test: hi @ada.test. #tag! (#other) #last…",
            [
                ("@ada.test", MENTION, DID),
                ("@bob.test", MENTION, OTHER_DID),
                ("@ada.test", MENTION, DID),
                ("#tag", TAG, "tag"),
                ("#other", TAG, "other"),
                ("#last", TAG, "last"),
            ],
            id="mentions-and-tags-by-punctuation",
        ),
        pytest.param(
            "（https://example.com/ｘ）を見て。https://example.jp/p。＃タグ\u3000#タグ２、",
            [
                ("https://example.com/", LINK, "https://example.com/"),
                ("https://example.jp/p", LINK, "https://example.jp/p"),
                ("＃タグ", TAG, "タグ"),
                ("#タグ２", TAG, "タグ２"),
            ],
            id="full-width",
        ),
        pytest.param(
            "example.com/path, www.example.co.uk. e.g. node.js my-site.social",
            [
                ("example.com/path", LINK, "https://example.com/path"),
                ("www.example.co.uk", LINK, "https://www.example.co.uk"),
                ("my-site.social", LINK, "https://my-site.social"),
            ],
            id="bare-domains-with-real-top-level-domains",
        ),
        pytest.param(
            "#123 #2024! ada@example.com a#tag @nobody.test https:// # x.notatld #️⃣",
            [],
            id="nothing-to-mark",
        ),
        pytest.param(
            "https://example.com/#anchor https://example.com/@ada.test",
            [
                ("https://example.com/#anchor", LINK, "https://example.com/#anchor"),
                ("https://example.com/@ada.test", LINK, "https://example.com/@ada.test"),
            ],
            id="a-link-holds-what-looks-like-a-tag-or-mention",
        ),
    ],
)
def test_facets_cover_exactly_their_bytes(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _spans(text, {"ada.test": DID, "bob.test": OTHER_DID}) == expected


def test_a_tag_is_at_most_64_graphemes() -> None:
    longest = "é" * 64  # two bytes each: graphemes count, not bytes
    assert _spans(f"#{longest}") == [(f"#{longest}", TAG, longest)]
    stacked = ("a" + "\u0301" * 10) * 31  # 31 graphemes of 21 bytes: over 640 bytes
    assert _spans(f"#{stacked}") == []
    assert _spans(f"#{longest}é") == []


def test_mentions_to_resolve_are_the_plausible_handles() -> None:
    text = "hi @Bob.test, (@carol.bsky.social) @ada.test @nope.notatld @x.test_y @bob.test"
    assert mentioned_handles(text) == ["bob.test", "carol.bsky.social", "ada.test"]
    # A handle that resolved under other case is still marked.
    assert _spans("@Bob.Test", {"bob.test": OTHER_DID}) == [("@Bob.Test", MENTION, OTHER_DID)]


@given(st.text(alphabet=st.sampled_from(list("ab.#@/:()é😀‍️ \n。（）https")), max_size=80))
def test_facets_are_ordered_disjoint_byte_slices(text: str) -> None:
    data = text.encode("utf-8")
    end = 0
    for facet in facets(text, {"a.b": DID}):
        start, stop = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert end <= start < stop <= len(data)
        data[start:stop].decode("utf-8")  # on character boundaries
        end = stop


# -- record keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vector",
    ["3jzfcijpj2z2a", "7777777777777", "3zzzzzzzzzzzz", "a222222222222", "j222222222222"],
)
def test_the_specs_tids_are_valid(vector: str) -> None:
    # tid_syntax_valid.txt of the atproto interop test files.
    assert is_valid_tid(vector)


@pytest.mark.parametrize(
    "text", ["3jzfcijpj2z2", "k222222222222", "3JZFCIJPJ2Z2A", "3jzfcijpj2z21"]
)
def test_what_is_not_a_tid(text: str) -> None:
    assert not is_valid_tid(text)


def test_a_tid_is_its_time_and_clock() -> None:
    assert tid(0, 0) == "2222222222222"  # the spec's TID of zero
    assert tid((1 << 53) - 1, 1023) == "bzzzzzzzzzzzz"
    now = int(time.time() * 1_000_000)
    assert tid(now, 0) < tid(now + 1, 0)  # sortable as text
    with pytest.raises(ValueError, match="53-bit time"):
        tid(1 << 53, 0)


@given(st.text(min_size=1, max_size=200).filter(lambda key: key.strip()))
def test_a_record_key_is_a_tid_of_the_key_alone(key: str) -> None:
    rkey = record_key(key)
    assert is_valid_tid(rkey)
    assert record_key(key) == rkey
    # Its time is before 1988, before any TID taken from a clock today.
    assert rkey < tid(1 << 49, 0) < tid(int(time.time() * 1_000_000), 0)


def test_record_keys_of_different_keys_differ() -> None:
    keys = [f"post-{n}:bluesky:{part}" for n in range(500) for part in range(4)]
    assert len({record_key(key) for key in keys}) == len(keys)


@pytest.mark.parametrize("key", ["", "   ", "x" * 201])
def test_a_key_is_needed(key: str) -> None:
    with pytest.raises(PermanentError, match="key"):
        record_key(key)


# -- the record -------------------------------------------------------------------------------


def test_the_record_of_a_reply_with_pictures() -> None:
    root = Published(id=f"at://{DID}/app.bsky.feed.post/3k2yihcrp6f2c", ref="bafyroot")
    parent = Published(id=f"at://{DID}/app.bsky.feed.post/3k2yihcrp6f2d", ref="bafyparent")
    blob = {"$type": "blob", "ref": {"$link": "bafkblob"}, "mimeType": "image/png", "size": 3}
    record = post_record(
        "Two",
        datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        images=[
            (blob, Upload(b"png", "image/png", "A cat", width=640, height=480)),
            (blob, Upload(b"png", "image/png")),
        ],
        reply_to=Thread(root=root, parent=parent),
    )
    assert record == {
        "$type": "app.bsky.feed.post",
        "text": "Two",
        "createdAt": "2024-05-06T07:08:09.123Z",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [
                {"image": blob, "alt": "A cat", "aspectRatio": {"width": 640, "height": 480}},
                {"image": blob, "alt": ""},
            ],
        },
        "reply": {
            "root": {"uri": root.id, "cid": "bafyroot"},
            "parent": {"uri": parent.id, "cid": "bafyparent"},
        },
    }


def test_a_reply_to_something_else_is_refused() -> None:
    elsewhere = Published(id="110000000000000001", url="https://mastodon.social/@ada/1")
    with pytest.raises(PermanentError, match="not a Bluesky post"):
        post_record("x", datetime.now(UTC), reply_to=Thread(root=elsewhere, parent=elsewhere))


def test_the_rules_and_flags() -> None:
    rules = Bluesky.POST_RULES
    assert (rules.max_length, rules.max_media, rules.max_media_bytes) == (300, 4, 1_000_000)
    assert rules.threads and not rules.content_warning
    assert {"publish", "delete", "upload_media"} <= set(capabilities(Bluesky))


# -- what is refused before any request --------------------------------------------------------


def _offline() -> httpx.AsyncClient:
    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(nothing_may_be_sent))


_LINKED = Credentials(
    access_token="access", refresh_token="refresh", extra={"did": DID, "pds": "https://pds.test"}
)


@pytest.mark.parametrize(
    ("draft", "says"),
    [
        (Draft(text="a" * 301), "301 characters long as Bluesky counts them"),
        (Draft(text="👨‍👩‍👧‍👦" * 300), "at most 3,000 bytes"),
        (Draft(text="   "), "nothing to publish"),
        (Draft(text="x", uploads=(Upload(b"p", "image/png"),) * 5), "at most 4 pictures"),
        (Draft(text="x", uploads=(Upload(b"GIF89a", "image/gif"),)), "JPEG, PNG, WEBP"),
        (Draft(text="x", uploads=(Upload(b"\0" * 1_000_001, "image/png"),)), "1,000,000 bytes"),
        (Draft(text="x", media=(Media("https://example.com/a.png"),)), "as uploads"),
        (
            Draft(
                text="x",
                uploads=(Upload(b"png", "image/png"),),
                reply_to=Thread(root=Published(id="1"), parent=Published(id="1")),
            ),
            "not a Bluesky post",
        ),
    ],
)
async def test_what_bluesky_would_refuse_is_refused_first(draft: Draft, says: str) -> None:
    async with _offline() as http:
        connector = Bluesky("ada.test", _LINKED, http)
        with pytest.raises(PermanentError) as raised:
            await connector.publish(draft, "key-1")
    assert says in raised.value.message


# -- failures, where a real PDS cannot be made to fail (respx) -----------------------------------

PDS = "https://pds.example.com"
RKEY = record_key("key-1")
URI = f"at://{DID}/app.bsky.feed.post/{RKEY}"
CID = "bafyreibjifzpqj6o6wcq3hejh7y4z4z2vmiklkvykc57tw3pcbx3kxifpm"
_ON_PDS = Credentials(
    access_token="access", refresh_token="refresh", extra={"did": DID, "pds": PDS}
)


def _not_found() -> httpx.Response:
    return httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate"})


async def test_a_lost_answer_finds_the_post_it_wrote() -> None:
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{PDS}/xrpc/com.atproto.repo.getRecord").mock(
            side_effect=[_not_found(), httpx.Response(200, json={"uri": URI, "cid": CID})]
        )
        create = mock.post(f"{PDS}/xrpc/com.atproto.repo.createRecord").mock(
            side_effect=httpx.ReadTimeout("lost")
        )
        result = await Bluesky("ada.test", _ON_PDS, http).publish(Draft(text="Hi"), "key-1")
    assert create.call_count == 1
    assert result == Published(
        id=URI, url=f"https://bsky.app/profile/ada.test/post/{RKEY}", ref=CID
    )


@pytest.mark.parametrize(
    ("response", "error", "says"),
    [
        (
            httpx.Response(429, headers={"ratelimit-reset": "{reset}"}, json={"error": "Rate"}),
            RateLimited,
            "slow down",
        ),
        (httpx.Response(502, text="<html>"), Retriable, "HTTP 502"),
        (
            httpx.Response(400, json={"error": "InvalidRequest", "message": "Invalid record."}),
            PermanentError,
            "Bluesky refused the post: Invalid record.",
        ),
        (httpx.Response(401, json={"error": "AuthenticationRequired"}), AuthRevoked, "revoked"),
    ],
)
async def test_a_failed_post_is_explained(
    response: httpx.Response, error: type[Exception], says: str
) -> None:
    reset = int(time.time()) + 30
    if "ratelimit-reset" in response.headers:
        response.headers["ratelimit-reset"] = str(reset)
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        mock.get(f"{PDS}/xrpc/com.atproto.repo.getRecord").mock(return_value=_not_found())
        mock.post(f"{PDS}/xrpc/com.atproto.repo.createRecord").mock(return_value=response)
        with pytest.raises(error) as raised:
            await Bluesky("ada.test", _ON_PDS, http).publish(Draft(text="Hi"), "key-1")
    assert type(raised.value) is error
    assert says in str(raised.value)
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after is not None
        assert 25 <= raised.value.retry_after <= 30


async def test_an_oauth_session_uploads_with_a_proof() -> None:
    dpop = DPoP()
    credentials = Credentials(
        access_token="oauth-access", extra={"did": DID, "pds": PDS, "dpop": dpop.state()}
    )
    blob = {"$type": "blob", "ref": {"$link": "bafkreiblob"}, "mimeType": "image/png", "size": 3}
    async with respx.mock() as mock, httpx.AsyncClient() as http:
        upload = mock.post(f"{PDS}/xrpc/com.atproto.repo.uploadBlob").respond(
            200, json={"blob": blob}
        )
        cid = await Bluesky("ada.test", credentials, http).upload_media(
            Media("", "image/png", "alt"), b"png"
        )
    sent = upload.calls.last.request
    assert cid == "bafkreiblob"
    assert sent.content == b"png"
    assert sent.headers["content-type"] == "image/png"
    assert sent.headers["authorization"] == "DPoP oauth-access"
    assert sent.headers["dpop"]


# -- a real PDS -----------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


@pytest.fixture
async def ada(atproto_network: AtprotoNetwork) -> AtprotoAccount:
    return await atproto_network.create_account("ada")


async def _record(network: AtprotoNetwork, uri: str) -> dict[str, Any]:
    did, collection, rkey = uri.removeprefix("at://").split("/")
    async with httpx.AsyncClient(base_url=network.pds_url, timeout=15) as client:
        answer = await client.get(
            "/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": collection, "rkey": rkey},
        )
    result: dict[str, Any] = answer.json()
    result["status"] = answer.status_code
    return result


async def _posts(network: AtprotoNetwork, did: str) -> list[dict[str, Any]]:
    listed = await network.xrpc(
        f"com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=100"
    )
    records: list[dict[str, Any]] = listed["records"]
    return records


def _covered(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


async def test_a_post_with_a_picture_link_mention_and_tag(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    bob = await atproto_network.create_account("bob")
    connector = await linked_bluesky(atproto_network, ada, http)
    picture = png(64, 48)
    text = (
        f"👩🏽‍💻 Café\u0301 notes: https://example.com/notes?a=1). "
        f"Thanks @{bob.handle} and @nobody-{ada.handle} #TeaTime! "
    )
    draft = Draft(
        text=text,
        uploads=(Upload(picture, "image/png", "A black rectangle", width=64, height=48),),
    )
    result = await connector.publish(draft, "post-1:bluesky:0")

    rkey = record_key("post-1:bluesky:0")
    assert result.id == f"at://{ada.did}/app.bsky.feed.post/{rkey}"
    assert result.url == f"https://bsky.app/profile/{ada.handle}/post/{rkey}"
    stored = await _record(atproto_network, result.id)
    assert stored["cid"] == result.ref
    post = stored["value"]
    assert post["text"] == text.strip()
    assert "langs" not in post and "reply" not in post
    assert datetime.fromisoformat(post["createdAt"]) <= datetime.now(UTC)
    found = [(_covered(post["text"], facet), facet["features"][0]) for facet in post["facets"]]
    assert found == [
        (
            "https://example.com/notes?a=1",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/notes?a=1"},
        ),
        (f"@{bob.handle}", {"$type": "app.bsky.richtext.facet#mention", "did": bob.did}),
        ("#TeaTime", {"$type": "app.bsky.richtext.facet#tag", "tag": "TeaTime"}),
    ]
    (image,) = post["embed"]["images"]
    assert post["embed"]["$type"] == "app.bsky.embed.images"
    assert image["alt"] == "A black rectangle"
    assert image["aspectRatio"] == {"width": 64, "height": 48}
    assert (image["image"]["mimeType"], image["image"]["size"]) == ("image/png", len(picture))
    async with httpx.AsyncClient(base_url=atproto_network.pds_url, timeout=15) as client:
        blob = await client.get(
            "/xrpc/com.atproto.sync.getBlob",
            params={"did": ada.did, "cid": image["image"]["ref"]["$link"]},
        )
    assert blob.content == picture


async def test_a_thread_answers_its_root(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await linked_bluesky(atproto_network, ada, http)
    first = await connector.publish(Draft(text="1/2 A long thought"), "thread-1:bluesky:0")
    second = await connector.publish(
        Draft(text="2/2 …ends here", reply_to=Thread(root=first, parent=first)),
        "thread-1:bluesky:1",
    )
    third = await connector.publish(
        Draft(
            text="And a picture",
            uploads=(Upload(png(2, 2), "image/png"),),
            reply_to=Thread(root=first, parent=second),
        ),
        "thread-1:bluesky:2",
    )
    reply = (await _record(atproto_network, second.id))["value"]["reply"]
    assert reply == {
        "root": {"uri": first.id, "cid": first.ref},
        "parent": {"uri": first.id, "cid": first.ref},
    }
    last = (await _record(atproto_network, third.id))["value"]
    assert last["reply"]["root"] == {"uri": first.id, "cid": first.ref}
    assert last["reply"]["parent"] == {"uri": second.id, "cid": second.ref}
    assert last["embed"]["images"][0]["alt"] == ""
    assert "aspectRatio" not in last["embed"]["images"][0]


async def test_publishing_again_with_the_same_key_writes_one_post(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await linked_bluesky(atproto_network, ada, http)
    draft = Draft(text="Only once #once", uploads=(Upload(png(8, 8), "image/png", "dot"),))
    first = await connector.publish(draft, "post-2:bluesky:0")
    again = await connector.publish(draft, "post-2:bluesky:0")
    assert again == first
    # Two attempts at once: one writes, the other finds what it wrote.
    racing = await asyncio.gather(
        connector.publish(Draft(text="Racing"), "post-3:bluesky:0"),
        connector.publish(Draft(text="Racing"), "post-3:bluesky:0"),
    )
    assert racing[0] == racing[1]
    posts = await _posts(atproto_network, ada.did)
    assert sorted(record["uri"] for record in posts) == sorted([first.id, racing[0].id])


async def test_a_post_is_deleted_once_and_gone_after(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await linked_bluesky(atproto_network, ada, http)
    kept = await connector.publish(Draft(text="Stays"), "post-4:bluesky:0")
    gone = await connector.publish(Draft(text="Goes"), "post-5:bluesky:0")
    await connector.delete_post(gone)
    assert (await _record(atproto_network, gone.id))["error"] == "RecordNotFound"
    await connector.delete_post(gone)  # already gone: done
    assert [record["uri"] for record in await _posts(atproto_network, ada.did)] == [kept.id]
    with pytest.raises(PermanentError, match="not a post of this Bluesky account"):
        await connector.delete_post(Published(id=f"at://{DID}/app.bsky.feed.post/{RKEY}"))


async def test_a_picture_is_uploaded_as_a_blob(
    atproto_network: AtprotoNetwork, ada: AtprotoAccount, http: httpx.AsyncClient
) -> None:
    connector = await linked_bluesky(atproto_network, ada, http)
    picture = png(3, 3)
    cid = await connector.upload_media(Media("", "image/png", "alt"), picture)
    assert cid.startswith("bafkrei")
    with pytest.raises(PermanentError, match="JPEG, PNG, WEBP"):
        await connector.upload_media(Media("", "text/plain"), b"text")
