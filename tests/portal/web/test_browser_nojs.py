"""Every page's core action works in a browser with JavaScript turned off.

htmx, the copy buttons, the network filter and the live notifications only make the pages
nicer: two people who run no script still link an account, choose who sees it, find each
other, become contacts, make a token and an invitation and change the language. Each step
is a plain form posted and answered with a page (or a redirect to one).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import new_person, screenshot, scriptless_page, sign_up
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
async def scriptless(
    browser: Browser, server: LiveServer
) -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Opens pages that run no JavaScript, each in a context of its own, closed at the end."""
    async with contextlib.AsyncExitStack() as stack:

        async def open_page() -> Page:
            return await stack.enter_async_context(scriptless_page(browser, server))

        yield open_page


async def test_two_people_do_the_core_of_every_page_without_javascript(
    scriptless: Callable[[], Awaitable[Page]], shots: Path
) -> None:
    ada = await scriptless()
    bob = await scriptless()
    ada_number = await sign_up(ada, new_person("Ada Lovelace"))

    # An account added by its handle, then shown to contacts only (the select's own button).
    await ada.goto("/me/accounts")
    networks = ada.get_by_role("list", name="Networks")
    await networks.locator('li[data-network="github"]').get_by_role("link").click()
    handle_form = ada.get_by_role("region", name="Your handle")
    await handle_form.get_by_label("Username").fill("@adalovelace")
    await handle_form.get_by_role("button", name="Add").click()
    await expect(ada).to_have_url(re.compile(r"/me/accounts$"))
    github = ada.get_by_test_id("linked-account").filter(has_text="@adalovelace")
    audience = github.get_by_label(re.compile(r"^Who sees it"))
    await expect(audience).to_have_value("public")
    await audience.select_option("contacts")
    await github.get_by_role("button", name="Save").click()
    await expect(ada).to_have_url(re.compile(r"/me/accounts$"))
    await expect(audience).to_have_value("contacts")

    # Found by name in search.
    await ada.goto("/me")
    privacy = ada.get_by_role("region", name="Who sees what")
    await privacy.get_by_label("By my name or handles, in search").check()
    await privacy.get_by_role("button", name="Save").click()
    await expect(ada.get_by_label("By my name or handles, in search")).to_be_checked()

    # Bob looks her number up from the home page's box and sees only what anyone may.
    bob_number = await sign_up(bob, new_person("Bob Kahn"))
    await bob.goto("/")
    await bob.get_by_label("Portal number").fill(ada_number)
    await bob.get_by_role("button", name="Look up").click()
    await expect(bob).to_have_url(re.compile(rf"/n/{ada_number}$"))
    await expect(bob.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")
    await expect(bob.get_by_text("@adalovelace")).to_have_count(0)

    # Without a script the contact buttons are not fetched: the page must carry them.
    await bob.get_by_role("button", name="Add as contact").click()
    await expect(bob).to_have_url(re.compile(rf"/n/{ada_number}$"))
    await expect(bob.get_by_text("Request sent")).to_be_visible()
    # So must the Follow button: a plain form, and the page again with the button pressed.
    await bob.get_by_role("button", name="Follow", exact=True).click()
    await expect(bob).to_have_url(re.compile(rf"/n/{ada_number}$"))
    await expect(bob.get_by_role("button", name="Following", exact=True)).to_be_visible()

    # Ada reads the notification, marks it read and accepts from her contacts page.
    await ada.goto("/me/notifications?unread=true")
    await expect(ada.get_by_text("Bob Kahn asked to become your contact.")).to_be_visible()
    await ada.get_by_role("button", name="Mark read").click()
    await expect(ada.get_by_role("button", name="Mark read")).to_have_count(0)
    await ada.goto("/me/contacts")
    asking = ada.get_by_role("region", name="Asking to become your contact")
    await asking.get_by_role("button", name="Accept").click()
    await expect(ada.get_by_role("region", name="My contacts")).to_contain_text("Bob Kahn")

    # Now a contact, Bob sees the account kept for contacts, and Ada in his list.
    await bob.goto(f"/n/{ada_number}")
    await expect(bob.get_by_text("@adalovelace")).to_be_visible()
    await bob.goto("/me/contacts")
    await expect(bob.get_by_role("region", name="My contacts")).to_contain_text("Ada Lovelace")

    # The contact list's filters are a form too.
    await bob.get_by_label("Name, number or handle").fill("nobody like this")
    await bob.get_by_role("button", name="Show", exact=True).click()
    await expect(bob.get_by_text("No contacts to show.")).to_be_visible()

    # Search by name.
    await bob.goto("/search")
    await bob.get_by_label("Name or handle").fill("Lovelace")
    await bob.get_by_role("button", name="Search", exact=True).click()
    await expect(bob.locator("main")).to_contain_text("Ada Lovelace")

    # A token and an invitation are made and shown once.
    await ada.goto("/me/tokens")
    await ada.get_by_label("What is it for?").fill("Backup")
    await ada.get_by_role("button", name="Create token").click()
    await expect(ada.get_by_test_id("new-token")).to_have_text(re.compile(r"\S{20,}"))
    await ada.goto("/me/invites")
    await ada.get_by_role("button", name="New invitation").click()
    await expect(ada.get_by_test_id("invite-link")).to_contain_text("/i/")
    # The copy buttons need a script: without one they stay hidden, never dead.
    await expect(ada.get_by_role("button", name="Copy")).to_have_count(0)

    # The language switcher.
    await bob.get_by_label("Language").select_option("it")
    await bob.get_by_role("button", name="Change").click()
    await expect(bob.locator("html")).to_have_attribute("lang", "it")
    await expect(bob.get_by_role("heading", level=1)).to_be_visible()
    await screenshot(bob, shots / "nojs-search-it.png")
    assert bob_number != ada_number
