"""Cross-posting in Debian's Chromium on ``portal serve``: a Matrix account linked by signing
in, a post written with its live preview, published into a room of the local Synapse by the
server's own worker, and its delivery turning to "Sent" on the page by itself; then a reply
and a reaction made in the room coming home to the page; screenshots at 390 and 1280 pixels."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import new_person, no_sideways_scroll, screenshot, sign_up
from tests.fixtures.live import LiveServer
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser, reaction, thread_reply

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    # The server reaches the Synapse on this machine, and runs the jobs itself whatever the
    # database (PostgreSQL's default is separate workers).
    return {"PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true", "PORTAL_JOBS": "inline"}


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


async def test_compose_preview_publish_and_watch_it_arrive(
    browser: Browser,
    server: LiveServer,
    matrix_homeserver: MatrixHomeserver,
    homeserver_http: httpx.AsyncClient,
    shots: Path,
) -> None:
    ada_matrix = await matrix_homeserver.register(homeserver_http, displayname="Ada")
    room_id = await _room(homeserver_http, matrix_homeserver, ada_matrix)
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

        await page.get_by_role("link", name="Publish").click()
        await expect(page).to_have_url(re.compile(r"/posts$"))
        await page.get_by_role("link", name="Write a post").click()
        await page.get_by_label("Text", exact=True).fill(
            "Portal publishes this in the room, by itself."
        )
        await page.get_by_role("checkbox", name=re.compile("Matrix")).check()
        await page.get_by_label("Room").fill(room_id)
        preview = page.locator("#previews .preview")
        await expect(preview).to_contain_text("Portal publishes this in the room, by itself.")
        await expect(preview).to_contain_text("Matrix")
        await screenshot(page, shots / "compose-1280.png")
        await page.set_viewport_size({"width": 390, "height": 844})
        await no_sideways_scroll(page)
        await screenshot(page, shots / "compose-390.png")
        await page.set_viewport_size({"width": 1280, "height": 900})

        await page.get_by_role("button", name="Publish", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/posts/[\w-]+$"))
        delivery = page.locator("#deliveries .delivery")
        await expect(delivery.locator(".badge")).to_have_text("Sent", timeout=30_000)
        await expect(delivery.get_by_role("link", name="See it there")).to_be_visible()

        # A reply and a reaction in the room come home to the post's page.
        bob = await matrix_homeserver.register(homeserver_http, displayname="Bob")
        event_id = await _event_of(
            homeserver_http, matrix_homeserver, ada_matrix, room_id,
            "Portal publishes this in the room, by itself.",
        )  # fmt: skip
        await matrix_homeserver.join(homeserver_http, bob, room_id)
        answer = thread_reply(event_id, "Seen it, thanks!")
        await matrix_homeserver.send(homeserver_http, bob, room_id, answer)
        await matrix_homeserver.send(
            homeserver_http, bob, room_id, reaction(event_id), "m.reaction"
        )
        await page.get_by_role("button", name="Look for answers now").click()
        answers = page.locator("#deliveries .answer")
        await expect(answers.filter(has_text="Seen it, thanks!")).to_be_visible(timeout=30_000)
        await expect(answers.filter(has_text="Liked")).to_contain_text("Bob")
        await expect(page.locator(".answer-counts")).to_contain_text("1 reply")
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
    bodies = await _messages(homeserver_http, matrix_homeserver, ada_matrix, room_id)
    assert bodies.count("Portal publishes this in the room, by itself.") == 1
