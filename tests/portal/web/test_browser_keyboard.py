"""Two people become contacts with the keyboard alone: Tab, typing and Enter, nothing else.

Sign-up and adding an account with the keyboard are in test_browser.py and
test_browser_accounts.py; this is the rest of the way: a number looked up from the home page,
a contact request sent, and accepted.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.fixtures.browser import new_person, sign_up
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.browser

_FOCUS_SHOWN = """(element) => {
  const style = getComputedStyle(element);
  return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
    || style.boxShadow !== "none";
}"""


_FOCUSED = "() => document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : null"


async def _tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, which must show."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("(element) => element === document.activeElement"):
            assert await target.evaluate(_FOCUS_SHOWN), "the focus does not show"
            return
    raise AssertionError(f"{limit} presses of Tab never reached {target}")


async def test_a_number_is_looked_up_asked_and_accepted_with_the_keyboard(
    browser: Browser, server: LiveServer, page: Page
) -> None:
    ada_number = await sign_up(page, new_person("Ada Lovelace"))
    bob = await browser.new_context(base_url=server.url)
    bob.set_default_timeout(10_000)
    try:
        bob_page = await bob.new_page()
        asked: list[str] = []
        bob_page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
        await sign_up(bob_page, new_person("Bob Kahn"))

        await bob_page.goto("/")
        box = bob_page.get_by_label("Portal number")
        await _tab_to(bob_page, box)
        await bob_page.keyboard.type(ada_number)
        await bob_page.keyboard.press("Enter")
        await expect(bob_page).to_have_url(re.compile(rf"/n/{ada_number}$"))

        ask = bob_page.get_by_role("button", name="Add as contact")
        await _tab_to(bob_page, ask)
        await bob_page.keyboard.press("Enter")
        await expect(bob_page.get_by_text("Request sent")).to_be_visible()
        # The buttons were swapped in place; the keyboard's place stayed with them, so the
        # next Tab is the next button rather than the top of the page.
        await expect(bob_page.locator("#contact-actions")).to_be_focused()
        await bob_page.keyboard.press("Tab")
        withdraw = bob_page.get_by_role("button", name="Withdraw request")
        try:
            await expect(withdraw).to_be_focused()
        except AssertionError as error:  # say where the focus went, and what was asked
            focused = await bob_page.evaluate(_FOCUSED)
            raise AssertionError(f"the focus is on {focused}; requests: {asked}") from error
    finally:
        await bob.close()

    await page.goto("/me/contacts")
    accept = page.get_by_role("region", name="Asking to become your contact").get_by_role(
        "button", name="Accept"
    )
    await _tab_to(page, accept)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("region", name="My contacts")).to_contain_text("Bob Kahn")
