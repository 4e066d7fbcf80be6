"""Reading what people did with a post on a real AT Protocol network: a PDS with the Bluesky
AppView indexing it (``atproto_appview``), as bsky.social's PDSes have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.base import Draft, PermanentError, Published, Response, Retriable
from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork, linked_bluesky


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


async def _write(
    network: AtprotoNetwork, who: AtprotoAccount, collection: str, record: dict[str, Any]
) -> dict[str, str]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    written = await network.xrpc(
        "com.atproto.repo.createRecord",
        {
            "repo": who.did,
            "collection": collection,
            "record": {"$type": collection, "createdAt": now, **record},
        },
        token=who.access_jwt,
    )
    return {"uri": written["uri"], "cid": written["cid"]}


async def _until(
    read: Callable[[], Awaitable[list[Response]]], done: Callable[[list[Response]], bool]
) -> list[Response]:
    """What ``read`` gives once ``done`` holds: the AppView indexes the PDS's events as they
    come, a moment after each write."""
    deadline = time.monotonic() + 30
    while True:
        found = await read()
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_replies_quotes_reposts_and_likes_come_back(
    atproto_appview: AtprotoNetwork, http: httpx.AsyncClient
) -> None:
    network = atproto_appview
    ada = await network.create_account("ada", display_name="Ada")
    bob = await network.create_account("bob", display_name="Bob B.")
    cat = await network.create_account("cat")
    connector = await linked_bluesky(network, ada, http)
    published = await connector.publish(Draft("Tea at five?"), "answers-1")
    post = {"uri": published.id, "cid": published.ref}

    reply = await _write(
        network,
        bob,
        "app.bsky.feed.post",
        {"text": "Yes! 🍵", "reply": {"root": post, "parent": post}},
    )
    deeper = await _write(
        network,
        cat,
        "app.bsky.feed.post",
        {"text": "Me too", "reply": {"root": post, "parent": reply}},
    )
    quote = await _write(
        network,
        cat,
        "app.bsky.feed.post",
        {"text": "Ada's tea", "embed": {"$type": "app.bsky.embed.record", "record": post}},
    )
    await _write(network, bob, "app.bsky.feed.like", {"subject": post})
    await _write(network, cat, "app.bsky.feed.repost", {"subject": post})

    found = await _until(
        lambda: connector.responses(published),
        lambda found: len(found) >= 5,
    )
    by_kind = {(answer.kind, answer.id): answer for answer in found}
    assert sorted(by_kind) == sorted(
        [
            ("reply", reply["uri"]),
            ("reply", deeper["uri"]),
            ("quote", quote["uri"]),
            ("like", bob.did),
            ("repost", cat.did),
        ]
    )
    first = by_kind[("reply", reply["uri"])]
    assert first.text == "Yes! 🍵"
    assert first.author.handle == bob.handle and first.author.display_name == "Bob B."
    assert first.in_reply_to == published.id
    assert (
        first.url == f"https://bsky.app/profile/{bob.handle}/post/{reply['uri'].rsplit('/', 1)[1]}"
    )
    assert first.published is not None
    assert by_kind[("reply", deeper["uri"])].in_reply_to == reply["uri"]
    assert by_kind[("quote", quote["uri"])].text == "Ada's tea"
    like = by_kind[("like", bob.did)]
    assert like.author.handle == bob.handle and like.published is not None


async def test_a_deleted_post_has_no_answers(
    atproto_appview: AtprotoNetwork, http: httpx.AsyncClient
) -> None:
    ada = await atproto_appview.create_account("ada")
    connector = await linked_bluesky(atproto_appview, ada, http)
    published = await connector.publish(Draft("Soon gone"), "answers-gone")
    await connector.delete_post(published)
    assert await connector.responses(published) == []


async def test_a_pds_without_an_appview_is_a_failure_that_may_pass(
    atproto_network: AtprotoNetwork, http: httpx.AsyncClient
) -> None:
    ada = await atproto_network.create_account("ada")
    connector = await linked_bluesky(atproto_network, ada, http)
    published = await connector.publish(Draft("Anyone?"), "answers-no-appview")
    with pytest.raises(Retriable, match="answered with an error"):
        await connector.responses(published)


async def test_only_bluesky_posts_are_read(
    atproto_appview: AtprotoNetwork, http: httpx.AsyncClient
) -> None:
    ada = await atproto_appview.create_account("ada")
    connector = await linked_bluesky(atproto_appview, ada, http)
    with pytest.raises(PermanentError, match="not a Bluesky post"):
        await connector.responses(Published("$event:example.org"))
