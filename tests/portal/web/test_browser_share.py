"""Sharing as a person does it, in Debian's Chromium on ``portal serve``: the share page, and
the contact button included by a page of another website (another origin, another port).

The browser, the watch on every page's console (frames included) and the helpers are in
tests/fixtures/browser.py.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import insert, select

from portal.db import make_engine
from portal.domain.number import display as display_number
from portal.storage.models import LinkedAccount, User
from tests.fixtures.browser import (
    Console,
    digits,
    new_person,
    open_account_menu,
    screenshot,
    sign_up,
)
from tests.fixtures.live import LiveServer, free_port

pytestmark = pytest.mark.browser


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static website on another port, served as ``localhost``: another origin and site."""
    root = tmp_path / "site"
    root.mkdir()
    port = free_port()
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}", root
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


async def _add_accounts(server: LiveServer, number: str) -> None:
    """Accounts straight into the server's database: one for anyone, one for contacts only."""
    engine = make_engine(server.database_url)
    try:
        async with engine.begin() as conn:
            user_id = await conn.scalar(select(User.id).where(User.number == number))
            await conn.execute(
                insert(LinkedAccount),
                [
                    {"user_id": user_id, "network": "telegram", "handle": "ada_l",
                     "audience": "public", "position": 0, "status": "unverified"},
                    {"user_id": user_id, "network": "whatsapp", "handle": "+447400123456",
                     "audience": "public", "position": 1, "status": "unverified"},
                    {"user_id": user_id, "network": "signal", "handle": "ada.42",
                     "audience": "contacts", "position": 2, "status": "unverified"},
                ],
            )  # fmt: skip
    finally:
        await engine.dispose()


async def test_the_contact_button_on_another_website(
    context: BrowserContext,
    page: Page,
    server: LiveServer,
    other_site: tuple[str, Path],
    console: Console,
    shots: Path,
) -> None:
    number = await sign_up(page, new_person("Ada Lovelace"))
    await _add_accounts(server, number)
    site, root = other_site
    (root / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Ada's bakery</title>"
        # The website's own strict policy: it only lets the portal's script and frame in.
        f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        f'script-src {server.url}; frame-src {server.url}">'
        "</head><body><h1>Ada's bakery</h1><p id='before'>Open every day.</p>"
        f"<script src='{server.url}/embed/{number}.js' async></script>"
        "<p id='after'>See you soon.</p></body></html>",
        encoding="utf-8",
    )

    assert context.browser is not None
    visitor = await context.browser.new_context()  # not signed in to the portal
    visitor.on("page", console.watch)
    try:
        host = await visitor.new_page()
        await host.goto(f"{site}/index.html")
        frame_element = host.locator(f"iframe[src='{server.url}/embed/{number}']")
        await expect(frame_element).to_have_count(1)
        # Inserted right where the script is, between the two paragraphs.
        order = await host.evaluate(
            "[...document.body.children].map(e => e.id || e.tagName.toLowerCase())"
        )
        assert order == ["h1", "before", "script", "iframe", "after"]
        frame = host.frame_locator("iframe")
        buttons = frame.get_by_test_id("contact-button")
        await expect(buttons).to_have_count(2)
        await expect(buttons.nth(0)).to_contain_text("Telegram")
        await expect(buttons.nth(0)).to_have_attribute("href", "https://t.me/ada_l")
        await expect(buttons.nth(1)).to_have_attribute("href", "https://wa.me/447400123456")
        await expect(buttons.nth(1)).to_have_attribute("rel", "noopener noreferrer")
        await expect(frame.get_by_text("Write to us on Telegram, WhatsApp")).to_be_visible()
        await expect(frame.get_by_text("ada.42")).to_have_count(0)  # contacts only
        # The frame's stylesheet applied: the buttons are boxes, not bare links.
        height = await buttons.nth(0).evaluate("e => e.getBoundingClientRect().height")
        assert height == 40
        # The host page keeps its own cookies and storage to itself.
        assert await host.evaluate("document.cookie") == ""
        await screenshot(host, shots / "contact-button-on-another-site.png")
    finally:
        await visitor.close()


async def test_the_share_page(
    context: BrowserContext, page: Page, server: LiveServer, console: Console, shots: Path
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    number = await sign_up(page, new_person("Grace Hopper"))
    await _add_accounts(server, number)
    await open_account_menu(page)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Share").click()
    await expect(page.get_by_role("heading", name="Share your number", level=1)).to_be_visible()
    await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
    # The live preview of the button, framed by the portal's own page.
    preview = page.frame_locator("iframe.embed-preview")
    await expect(preview.get_by_test_id("contact-button")).to_have_count(2)

    link_copy = page.locator("button[data-copy='share-link']")
    await link_copy.click()
    await expect(link_copy).to_have_text("Copied")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{server.url}/n/{number}"
    await expect(link_copy).to_have_text("Copy")

    await page.get_by_label("Preview as").select_option("contact")
    await page.get_by_role("button", name="Preview", exact=True).click()
    await expect(page.get_by_test_id("card-preview")).to_contain_text("ada.42")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download the vCard").click()
    download = await download_info.value
    path = await download.path()
    text = (await asyncio.to_thread(Path(path).read_bytes)).decode()
    assert "FN:Grace Hopper\r\n" in text and "https://wa.me/447400123456" in text
    await screenshot(page, shots / "share-page.png")

    await page.goto("/me")
    shown = (await page.get_by_test_id("my-number").inner_text()).strip()
    await page.get_by_role("button", name="Copy the number").click()
    assert await page.evaluate("navigator.clipboard.readText()") == shown
    assert digits(shown) == number


async def test_the_share_button(
    browser: Browser, context: BrowserContext, page: Page, server: LiveServer, shots: Path
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    number = await sign_up(page, new_person("Katherine Johnson"))
    link = f"{server.url}/n/{number}"
    await page.goto("/me/share")
    share = page.get_by_role("button", name="Share my link")
    await expect(share).to_have_attribute("href", link)

    # Chromium on Linux has no share sheet: the link is copied, and the page says so.
    assert await page.evaluate("typeof navigator.share") == "undefined"
    await share.click()
    status = page.get_by_role("status").filter(has_text="The link is copied")
    await expect(status).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    await expect(page).to_have_url(f"{server.url}/me/share")
    await screenshot(page, shots / "share-button-copied.png")

    # Where the browser has one, the share sheet gets the link and the number to go with it.
    await page.add_init_script(
        "navigator.share = (data) => { window.shared = data; return Promise.resolve(); };"
    )
    await page.reload()
    await page.evaluate("navigator.clipboard.writeText('')")
    await share.click()
    shared = await page.evaluate("window.shared")  # set by the click's own handler
    text = f"My portal number: {display_number(number)}"
    assert shared == {"title": "Portal", "text": text, "url": link}
    assert await page.evaluate("navigator.clipboard.readText()") == ""
    await expect(page).to_have_url(f"{server.url}/me/share")

    # Without JavaScript it is a plain link to the page.
    plain = await browser.new_context(
        base_url=server.url, java_script_enabled=False, storage_state=await context.storage_state()
    )
    try:
        without_script = await plain.new_page()
        await without_script.goto("/me/share")
        await without_script.get_by_role("button", name="Share my link").click()
        await expect(without_script).to_have_url(link)
    finally:
        await plain.close()
