"""The portal as an app on a phone, in Debian's Chromium on ``portal serve``: the service
worker keeps one's own pages readable offline, shows the offline page for the others, and
keeps nothing of the person once they sign out.

http://127.0.0.1 is a secure context, so the worker runs there as it would on https.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from tests.fixtures.browser import (
    PHONE,
    Console,
    digits,
    new_person,
    open_account_menu,
    screenshot,
    sign_up,
)

pytestmark = pytest.mark.browser

_CONTROLLED = """() => navigator.serviceWorker.controller !== null || new Promise((resolve) => {
  navigator.serviceWorker.addEventListener("controllerchange", () => resolve(true));
})"""
"""Resolves once a service worker controls the page (wait_for_function's polling would need
an eval that the portal's Content-Security-Policy forbids)."""

_EVERY_KEPT_TEXT = """async () => {
  const texts = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      texts.push(request.url + "\\n" + await response.clone().text());
    }
  }
  return texts;
}"""


async def _kept(page: Page) -> list[str]:
    """The address and the body of everything the page's origin keeps in its caches."""
    texts: list[str] = await page.evaluate(_EVERY_KEPT_TEXT)
    return texts


def _unreachable(console: Console) -> None:
    """Offline, the browser logs each request the network refused (the notifications stream
    among them); those are what the test asks for, any other error is not."""
    console.errors[:] = [e for e in console.errors if "ERR_INTERNET_DISCONNECTED" not in e]


async def _picture_shown(page: Page) -> None:
    """Wait (within the usual timeout) until the person's own picture is loaded and drawn."""
    avatar = page.get_by_role("img", name="Your picture")
    await expect(avatar).to_be_visible()
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await avatar.element_handle()
    )


async def test_ones_own_pages_are_readable_offline_and_forgotten_at_sign_out(
    context: BrowserContext, page: Page, console: Console, shots: Path, tmp_path: Path
) -> None:
    await page.set_viewport_size(PHONE)
    person = new_person("Ada Lovelace")
    number = await sign_up(page, person)
    # The worker takes over the page it was installed from, without a reload.
    await asyncio.wait_for(page.evaluate(_CONTROLLED), timeout=10)
    picture = tmp_path / "ada.png"
    Image.new("RGB", (120, 120), (31, 111, 235)).save(picture)
    await page.get_by_label("Choose a picture").set_input_files(picture)
    await page.get_by_role("button", name="Upload").click()
    await _picture_shown(page)
    for path in ("/me", "/me/share", "/me/contacts"):
        await page.goto(path)
    # Neither a page of a number (other people's are like it), nor one sent as no-store, nor
    # the API, nor a form's answer is kept.
    await page.goto(f"/n/{number}")
    await page.goto("/me/accounts")
    assert await page.evaluate("fetch('/api/v1/me').then((answer) => answer.status)") == 200
    await page.goto("/me")
    await page.get_by_role("region", name="Profile").get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    origin = page.url.removesuffix("/me")
    kept = sorted(text.partition("\n")[0].removeprefix(origin) for text in await _kept(page))
    pages = [path for path in kept if not path.startswith(("/static/", "/n/"))]
    assert pages == ["/me", "/me/contacts", "/me/share", "/offline"]
    # The picture /me shows is kept with it; nothing else of the number's page is.
    pictures = [path for path in kept if path.startswith("/n/")]
    assert len(pictures) == 1 and re.match(rf"/n/{number}/avatar\?v=\w+$", pictures[0]), kept

    await context.set_offline(True)
    await page.goto("/me")
    await expect(page.get_by_test_id("my-number")).to_be_visible()
    assert digits(await page.get_by_test_id("my-number").inner_text()) == number
    await page.reload()
    await expect(page.get_by_test_id("my-number")).to_be_visible()
    await _picture_shown(page)
    await screenshot(page, shots / "me-offline.png")
    await page.goto("/me/share")
    await page.reload()
    await expect(page.get_by_role("heading", name="Share your number", level=1)).to_be_visible()
    await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
    await expect(page.locator("#share-link")).to_have_value(re.compile(f"/n/{number}$"))
    await page.goto("/me/contacts")
    await page.reload()
    await expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    # A page never opened: the offline page, in place of the browser's own error.
    await page.goto("/me/accounts")
    await expect(page.get_by_test_id("offline")).to_be_visible()
    await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    await screenshot(page, shots / "offline-page.png")
    _unreachable(console)

    await context.set_offline(False)
    await page.goto("/me")
    assert any(number in text for text in await _kept(page))  # kept until now
    await open_account_menu(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    for _ in range(50):
        kept = await _kept(page)
        if not any(number in text or person.email in text for text in kept):
            break
        await asyncio.sleep(0.1)
    leftover = [text.partition("\n")[0] for text in kept if number in text or person.email in text]
    assert leftover == []
    assert not any("/me" in text.partition("\n")[0] for text in kept)
    assert await page.evaluate("caches.match('/me')") is None
    assert any(text.startswith(f"{page.url.rstrip('/')}/offline") for text in kept)

    # Offline again, the person's card is gone from this browser.
    await context.set_offline(True)
    await page.goto("/me")
    await expect(page.get_by_test_id("offline")).to_be_visible()
    await expect(page.get_by_test_id("my-number")).to_have_count(0)
    _unreachable(console)
    await context.set_offline(False)


async def test_the_offline_page_follows_the_chosen_language(page: Page, console: Console) -> None:
    await page.goto("/")
    await asyncio.wait_for(page.evaluate(_CONTROLLED), timeout=10)
    await page.get_by_label("Language").select_option("fr")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    for _ in range(50):  # the page told the worker, which fetches the page again
        if any("Vous êtes hors ligne" in text for text in await _kept(page)):
            break
        await asyncio.sleep(0.1)
    await page.context.set_offline(True)
    await page.goto("/signup")
    await expect(page.get_by_role("heading", name="Vous êtes hors ligne")).to_be_visible()
    await expect(page.get_by_role("button", name="Réessayer")).to_be_visible()
    _unreachable(console)
    await page.context.set_offline(False)


async def test_chromium_finds_the_portal_installable(page: Page) -> None:
    await page.goto("/")
    await asyncio.wait_for(page.evaluate(_CONTROLLED), timeout=10)
    devtools = await page.context.new_cdp_session(page)
    manifest = await devtools.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert manifest["errors"] == []
    found = await devtools.send("Page.getInstallabilityErrors")
    # A Playwright context is a private window, where Chromium installs nothing; that aside,
    # it finds nothing missing (icons, start page, display mode, service worker …).
    errors = [error["errorId"] for error in found["installabilityErrors"]]
    assert [error for error in errors if error != "in-incognito"] == []
