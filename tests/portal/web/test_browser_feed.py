"""Reading the unified feed in Debian's Chromium on ``portal serve``: a feed followed from the
feeds page, its entries read as one scrolls (the next page comes by itself), and the keyboard's
shortcuts j, k, m and s; screenshots at 360 and 1280 pixels, light and dark.

The feed is served by a real HTTP server on this machine (tests/fixtures/feeds.py), which the
portal's server is allowed to reach (``PORTAL_CONNECTORS_ALLOW_LOOPBACK``).
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import (
    new_person,
    no_sideways_scroll,
    screenshot,
    scriptless_page,
    sign_up,
)
from tests.fixtures.feeds import FeedServer, send, serving, static
from tests.fixtures.live import LiveServer
from tests.portal.web.test_browser_axe import AXE, _axe

pytestmark = pytest.mark.browser

ENTRIES = 45
SERVED: dict[str, int | str] = {"entries": ENTRIES, "pictures": ""}
"""How many entries the feed server serves now, and where its pictures are."""
LONG = "<p>" + "A longer entry, with more to say than fits in a card. " * 12 + "</p>"


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true"}


async def _rss(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    items = "".join(
        f"<item><guid>{key}</guid><title>Entry number {key}</title>"
        f"<link>https://example.org/{key}</link>"
        f"<author>ada@example.org (Ada)</author>"
        f"<description><![CDATA[{_body(key)}]]>"
        f"</description><pubDate>{1 + key // 24:02d} Nov 2026 {key % 24:02d}:00:00 GMT</pubDate>"
        "</item>"
        for key in range(1, int(SERVED["entries"]) + 1)
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Ada writes</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()
    await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})


def _body(key: int) -> str:
    if key % 3 == 0:
        return LONG
    if key % 5 == 0:  # a picture of the feed's server, which the page shows through Portal
        return f'<p>A picture:</p><img src="{SERVED["pictures"]}/tile.png" alt="A teal tile">'
    return f"<p>Short note {key}.</p>"


def _tile() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 120), (0, 128, 128)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def blog() -> AsyncIterator[FeedServer]:
    SERVED["entries"] = ENTRIES
    tile = static(_tile(), {"content-type": "image/png"})
    async with serving({"/rss": _rss, "/tile.png": tile}) as feed_server:
        SERVED["pictures"] = feed_server.url("")
        yield feed_server


async def _shots(page: Page, shots: Path, name: str) -> None:
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        for width, height in ((360, 780), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            await no_sideways_scroll(page)
            await screenshot(page, shots / f"{name}-{width}-{scheme}.png")
    await page.emulate_media(color_scheme="light")


async def test_the_feed_is_read_scrolled_and_worked_with_the_keyboard(
    page: Page, blog: FeedServer, shots: Path
) -> None:
    await sign_up(page, new_person("Ada Lovelace"))
    await page.goto("/feed")
    await expect(page.get_by_text("Your feed is empty.")).to_be_visible()
    await _shots(page, shots, "feed-empty")

    await page.goto("/feed/sources")
    await page.get_by_label("Address of a feed, or of a page that names one").fill(blog.url("/rss"))
    await page.get_by_label("Folder").first.fill("Friends")
    await page.get_by_role("button", name="Follow", exact=True).click()
    await expect(page.get_by_text("You now follow Ada writes.")).to_be_visible()
    await expect(page.locator(".sources .badge.verified")).to_have_text("Working")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await _shots(page, shots, "feed-sources")

    await page.get_by_role("link", name="Read the feed").click()
    entries = page.locator("[data-entry]")
    await expect(entries).to_have_count(20)
    await expect(entries.first.get_by_role("link", name="Entry number 45")).to_be_visible()
    # A picture of an entry comes through Portal (the page's policy allows no other server).
    picture = page.get_by_role("img", name="A teal tile").first
    await expect(picture).to_be_visible()
    assert (await picture.get_attribute("src") or "").startswith("/feed/images/")
    assert await picture.evaluate("image => image.complete && image.naturalWidth") == 320
    await _shots(page, shots, "feed")

    # Scrolled to the foot, the next page comes by itself, and the one after.
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.locator(".feed-more").scroll_into_view_if_needed()
    await expect(entries).to_have_count(40)
    await page.locator(".feed-more").scroll_into_view_if_needed()
    await expect(entries).to_have_count(ENTRIES)
    await expect(page.get_by_text("You have reached the oldest entry.")).to_be_visible()

    # The keyboard: j and k move between entries, m marks read, s stars, focus stays put.
    await page.locator("h1").click()
    await page.keyboard.press("j")
    await expect(entries.nth(0)).to_be_focused()
    await page.keyboard.press("j")
    await expect(entries.nth(1)).to_be_focused()
    focus_ring = await entries.nth(1).evaluate("(e) => getComputedStyle(e).outlineStyle")
    assert focus_ring != "none"
    await page.keyboard.press("m")
    await expect(entries.nth(1).locator('button[data-key="m"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.keyboard.press("s")
    await expect(entries.nth(1).locator('button[data-key="s"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(entries.nth(1)).to_be_focused()
    await page.keyboard.press("k")
    await expect(entries.nth(0)).to_be_focused()
    # Typing in the search box is typing, not a shortcut.
    await page.get_by_label("Search").fill("")
    await page.get_by_label("Search").press("j")
    await expect(page.get_by_label("Search")).to_have_value("j")

    await page.goto("/feed?starred=1")
    await expect(entries).to_have_count(1)
    await expect(page.get_by_role("link", name="Entry number 44")).to_be_visible()
    await page.goto("/feed?unread=1")
    await expect(page.get_by_role("link", name="Entry number 44")).to_have_count(0)
    await page.goto("/feed")
    await page.locator("details.keys > summary").click()
    await page.locator("details.more-filters > summary").click()
    await page.locator("details.entry-more").first.locator("summary").click()
    await _shots(page, shots, "feed-open")
    # With entries, read and starred ones, and every fold open: nothing serious for axe.
    source = AXE.read_text(encoding="utf-8")
    found = []
    for path in ("/feed", "/feed/sources"):
        if path != "/feed":
            await page.goto(path)
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            found += await _axe(page, source)
    assert not found, "\n".join(found)


async def test_the_feed_without_javascript(
    browser: Browser, server: LiveServer, blog: FeedServer
) -> None:
    async with scriptless_page(browser, server) as page:
        await sign_up(page, new_person("Mary Somerville"))
        await page.goto("/feed/sources")
        await page.get_by_label("Address of a feed, or of a page that names one").fill(
            blog.url("/rss")
        )
        await page.get_by_role("button", name="Follow", exact=True).click()
        await expect(page.get_by_text("You now follow Ada writes.")).to_be_visible()

        await page.goto("/feed")
        entries = page.locator("[data-entry]")
        await expect(entries).to_have_count(20)
        await page.get_by_role("link", name="Older entries").click()
        await expect(page).to_have_url(re.compile(r"/feed\?cursor="))
        await expect(entries.first.get_by_role("link", name="Entry number 25")).to_be_visible()

        await entries.first.get_by_role("button", name="Read").click()
        await expect(page.get_by_text("Marked read.")).to_be_visible()
        await expect(page).to_have_url(re.compile(r"/feed\?cursor="))  # the same page
        read = page.locator("[data-entry]").first.get_by_role("button", name="Read")
        await expect(read).to_have_attribute("aria-pressed", "true")
        await page.locator("[data-entry]").first.get_by_role("button", name="Star").click()
        await expect(page.get_by_text("Starred.")).to_be_visible()

        await page.goto("/feed")
        await page.get_by_role("button", name="Mark all as read").click()
        await expect(page.get_by_text("Marked read: 44.")).to_be_visible()

        await page.goto("/feed/sources")
        await page.locator(".confirm summary").click()
        await page.locator(".confirm-body").get_by_role("button", name="Unfollow").click()
        await expect(page.get_by_text("You no longer follow this feed.")).to_be_visible()
        await expect(page.get_by_text("You follow no feed yet.")).to_be_visible()
