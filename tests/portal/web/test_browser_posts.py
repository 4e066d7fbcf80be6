"""Cross-posting in Debian's Chromium on ``portal serve``: a Matrix account and a Bluesky account
linked by signing in, one post written with a live preview per network (one message in the
room, a thread of two on Bluesky), published by the server's own worker into a room of the local
Synapse and to the local PDS, both deliveries turning to "Sent" on the page by themselves; then
answers made on each network coming home to the page: a reply and a reaction in the room, a
reply on Bluesky; screenshots at 390 and 1280 pixels, in English, Italian and French."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork
from tests.fixtures.browser import new_person, no_sideways_scroll, screenshot, sign_up
from tests.fixtures.live import LiveServer
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser, reaction, thread_reply

pytestmark = pytest.mark.browser


TEXT = (
    "Portal publishes this in the room and on Bluesky, by itself, from one form: the room "
    "takes it whole, as one message.\n\n"
    "Bluesky allows 300 characters a post, so there it becomes a thread, cut where a sentence "
    "ends, each part numbered. Every answer, wherever it is written, comes home to one "
    "page, with who wrote it."
)
"""Too long for one Bluesky post, one message in a Matrix room."""


@pytest.fixture(scope="module")
def server_env(atproto_appview: AtprotoNetwork) -> dict[str, str]:
    # The server reaches the Synapse and the PDS on this machine (whose posts the AppView
    # reads back), and runs the jobs itself whatever the database (PostgreSQL's default is
    # separate workers).
    return {
        "PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true",
        "PORTAL_JOBS": "inline",
        "PORTAL_ATPROTO_PLC_URL": atproto_appview.plc_url,
        "PORTAL_ATPROTO_RESOLVER_URL": atproto_appview.pds_url,
    }


async def _room(http: httpx.AsyncClient, server: MatrixHomeserver, user: MatrixUser) -> str:
    made = await http.post(
        f"{server.base_url}/_matrix/client/v3/createRoom",
        json={"name": "Announcements", "preset": "public_chat"},
        headers=user.headers,
    )
    made.raise_for_status()
    room_id: str = made.json()["room_id"]
    return room_id


async def _messages(
    http: httpx.AsyncClient, server: MatrixHomeserver, user: MatrixUser, room_id: str
) -> list[str]:
    answer = await http.get(
        f"{server.base_url}/_matrix/client/v3/rooms/{quote(room_id)}/messages",
        params={"dir": "b", "limit": "50"},
        headers=user.headers,
    )
    answer.raise_for_status()
    return [
        event["content"].get("body", "")
        for event in answer.json()["chunk"]
        if event["type"] == "m.room.message"
    ]


async def _event_of(
    http: httpx.AsyncClient, server: MatrixHomeserver, user: MatrixUser, room_id: str, body: str
) -> str:
    answer = await http.get(
        f"{server.base_url}/_matrix/client/v3/rooms/{quote(room_id)}/messages",
        params={"dir": "b", "limit": "50"},
        headers=user.headers,
    )
    answer.raise_for_status()
    (event_id,) = [
        event["event_id"]
        for event in answer.json()["chunk"]
        if event["type"] == "m.room.message" and event["content"].get("body") == body
    ]
    return str(event_id)


async def _thread(network: AtprotoNetwork, who: AtprotoAccount) -> list[dict[str, Any]]:
    """The posts of an account's repository, oldest first, as the PDS holds them."""
    listed = await network.xrpc(
        f"com.atproto.repo.listRecords?repo={who.did}&collection=app.bsky.feed.post&limit=50"
    )
    return sorted(listed["records"], key=lambda record: record["value"]["createdAt"])


async def _reply(
    network: AtprotoNetwork, who: AtprotoAccount, to: dict[str, Any], text: str
) -> None:
    ref = {"uri": to["uri"], "cid": to["cid"]}
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": now,
        "reply": {"root": ref, "parent": ref},
    }
    await network.xrpc(
        "com.atproto.repo.createRecord",
        {"repo": who.did, "collection": "app.bsky.feed.post", "record": record},
        token=who.access_jwt,
    )


async def test_compose_preview_publish_and_watch_it_arrive(
    browser: Browser,
    server: LiveServer,
    matrix_homeserver: MatrixHomeserver,
    homeserver_http: httpx.AsyncClient,
    atproto_appview: AtprotoNetwork,
    shots: Path,
) -> None:
    ada_matrix = await matrix_homeserver.register(homeserver_http, displayname="Ada")
    room_id = await _room(homeserver_http, matrix_homeserver, ada_matrix)
    bluesky = atproto_appview
    ada_bluesky = await bluesky.create_account("ada", display_name="Ada")
    context = await browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}
    )
    page: Page = await context.new_page()
    try:
        await sign_up(page, new_person("Ada"))
        await page.goto("/me/accounts/add?network=matrix")
        await page.locator("#signin-handle").fill(ada_matrix.user_id)
        await page.locator("#password").fill(ada_matrix.password)
        await page.get_by_role("button", name="Sign in and link").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts"))
        await page.goto("/me/accounts/add?network=bluesky")
        await page.locator("#signin-handle").fill(ada_bluesky.handle)
        await page.locator("#password").fill(await bluesky.create_app_password(ada_bluesky))
        await page.get_by_role("button", name="Sign in and link").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts"))

        await page.get_by_role("link", name="Publish").click()
        await expect(page).to_have_url(re.compile(r"/posts$"))
        await page.get_by_role("link", name="Write a post").click()
        await page.get_by_label("Text", exact=True).fill(TEXT)
        await page.get_by_role("checkbox", name=re.compile("Matrix")).check()
        await page.get_by_label("Room").fill(room_id)
        await page.get_by_role("checkbox", name=re.compile("Bluesky")).check()
        # A preview per network, each by its own rules: one message in the room, a thread of
        # two numbered posts on Bluesky.
        in_room = page.locator("#previews").get_by_role("article", name=re.compile("^Matrix"))
        on_bluesky = page.locator("#previews").get_by_role("article", name=re.compile("^Bluesky"))
        await expect(in_room.locator(".preview-part")).to_have_count(1)
        await expect(in_room.locator(".preview-part")).to_contain_text("the room takes it whole")
        await expect(on_bluesky).to_contain_text("A thread of 2 posts")
        await expect(on_bluesky.locator(".preview-part")).to_have_count(2)
        await expect(on_bluesky.locator(".preview-part").first).to_contain_text("1/2")
        await screenshot(page, shots / "compose-1280.png")
        await page.set_viewport_size({"width": 390, "height": 844})
        await no_sideways_scroll(page)
        await screenshot(page, shots / "compose-390.png")
        await page.set_viewport_size({"width": 1280, "height": 900})

        await page.get_by_role("button", name="Publish", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/posts/[\w-]+$"))
        deliveries = page.locator("#deliveries .delivery")
        await expect(deliveries).to_have_count(2)
        for delivery in (
            deliveries.filter(has_text="Matrix"),
            deliveries.filter(has_text="Bluesky"),
        ):
            await expect(delivery.locator(".badge")).to_have_text("Sent", timeout=30_000)
            await expect(delivery.get_by_role("link", name="See it there")).to_be_visible()

        # Answers made on each network come home to the post's page: a reply and a reaction
        # in the room, a reply to the first post of the Bluesky thread.
        bob = await matrix_homeserver.register(homeserver_http, displayname="Bob")
        event_id = await _event_of(homeserver_http, matrix_homeserver, ada_matrix, room_id, TEXT)
        await matrix_homeserver.join(homeserver_http, bob, room_id)
        answer = thread_reply(event_id, "Seen it, thanks!")
        await matrix_homeserver.send(homeserver_http, bob, room_id, answer)
        await matrix_homeserver.send(
            homeserver_http, bob, room_id, reaction(event_id), "m.reaction"
        )
        cat = await bluesky.create_account("cat", display_name="Cat on Bluesky")
        first, _ = await _thread(bluesky, ada_bluesky)
        await _reply(bluesky, cat, first, "Two parts, one page: nice.")
        answers = page.locator("#deliveries .answer")
        deadline = time.monotonic() + 45
        while True:  # the AppView indexes what the PDS writes a moment later
            await page.get_by_role("button", name="Look for answers now").click()
            try:
                await expect(answers.filter(has_text="Two parts, one page: nice.")).to_be_visible(
                    timeout=5_000
                )
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        await expect(answers.filter(has_text="Seen it, thanks!")).to_be_visible(timeout=30_000)
        await expect(answers.filter(has_text="Liked")).to_contain_text("Bob")
        await expect(answers.filter(has_text="Two parts, one page: nice.")).to_contain_text("Cat")
        await expect(page.locator(".answer-counts")).to_contain_text("2 replies")
        await screenshot(page, shots / "post-1280.png")
        await page.set_viewport_size({"width": 390, "height": 844})
        await no_sideways_scroll(page)
        await screenshot(page, shots / "post-390.png")
        post_url = page.url
        signed_in = await context.storage_state()
        for language in ("it-IT", "fr-FR"):
            other = await browser.new_context(
                base_url=server.url, locale=language, storage_state=signed_in
            )
            try:
                seen = await other.new_page()
                for width in (390, 1280):
                    await seen.set_viewport_size({"width": width, "height": 900})
                    for path, name in ((post_url, "post"), ("/posts/new", "compose")):
                        await seen.goto(path)
                        await no_sideways_scroll(seen)
                        await screenshot(seen, shots / f"{name}-{language[:2]}-{width}.png")
            finally:
                await other.close()
    finally:
        await context.close()
    # Each network holds the post exactly once: one message in the room, a thread of two
    # on Bluesky, the second a reply to the first.
    bodies = await _messages(homeserver_http, matrix_homeserver, ada_matrix, room_id)
    assert bodies.count(TEXT) == 1
    posts = await _thread(bluesky, ada_bluesky)
    assert len(posts) == 2
    first, second = posts
    assert first["value"]["text"].endswith("1/2") and second["value"]["text"].endswith("2/2")
    assert second["value"]["reply"]["root"]["uri"] == first["uri"]
