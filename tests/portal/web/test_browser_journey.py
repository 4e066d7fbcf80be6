"""Two people's first days on Portal, in Debian's Chromium on ``portal serve``, with real peers:
the OpenID Connect test provider and a Bluesky PDS (tests/fixtures/oidc.py, atproto.py).

Ada signs up, goes through the guided start, links an OpenID Connect account and a Bluesky
account, chooses who sees each, shares her number (QR code, vCard, an invitation). Bob opens
the invitation in a browser of his own, signs up from it, looks Ada's number up, sees only what
anyone may and asks to become her contact; Ada accepts, and Bob then sees what her contacts
see. Bob finds her again by name and by phone, both see what happened in their notifications,
Bob then follows Ada's number and reads her Bluesky posts in his unified feed, scrolls and
marks one read; and the main pages are photographed in every language, theme and width.

How to add a leg (a unified feed, cross-posting, messages…): write one ``async def _leg(j:
Journey) -> None`` that drives ``j.ada.page`` and ``j.bob.page`` as the people would, keep what
later legs need on :class:`Journey` (add a field with a default), and put the function in
:data:`LEGS` where it belongs in the story, before ``_photograph`` if its pages should be in
the screenshots. Legs run in order in one test, each starting where the one before stopped;
a failing leg is named in the traceback. Run alone with
``.venv/bin/pytest -n 0 tests/portal/web/test_browser_journey.py``.

Screenshots go to ``$PORTAL_SCREENSHOTS`` when it is set, else to ``test-artifacts/journey/``
under the checkout, named ``<page>-<language>-<theme>-<width>.png``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.fixtures.atproto import AtprotoAccount, AtprotoNetwork
from tests.fixtures.browser import (
    Console,
    Person,
    confirmed_sign_up,
    digits,
    mailed_link,
    new_person,
    no_sideways_scroll,
    open_account_menu,
    screenshot,
)
from tests.fixtures.live import LiveServer
from tests.fixtures.oidc import OIDCProvider

pytestmark = pytest.mark.browser

PROVIDER_LABEL = "Test ID"
REPO = Path(__file__).resolve().parents[3]
LANGUAGES = ("en", "it", "fr")
THEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
WIDTHS = (360, 1280)
HEIGHT = 800
POSTS = 25
"""Ada's Bluesky posts: more than a page of the feed."""
_RAW = ("%(", "{{", "{%", "}}", "%}")


@pytest.fixture(scope="module")
def server_env(oidc_provider: OIDCProvider, atproto_network: AtprotoNetwork) -> dict[str, str]:
    """The server links through the test provider and reaches the test PDS and PLC."""
    return {
        "PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true",
        "PORTAL_OIDC_PROVIDERS": json.dumps([oidc_provider.setting(PROVIDER_LABEL)]),
        "PORTAL_ATPROTO_PLC_URL": atproto_network.plc_url,
        "PORTAL_ATPROTO_RESOLVER_URL": atproto_network.pds_url,
        # The feed is polled in the server, as in the embedded default, on PostgreSQL too.
        "PORTAL_FEED_POLLER": "inline",
    }


@dataclass
class Side:
    """One person and the browser they use."""

    person: Person
    context: BrowserContext
    page: Page
    number: str = ""
    """Their portal number, as bare digits, once they have one."""


@dataclass
class Journey:
    """What the legs share: the two people, the peers, and what earlier legs left behind."""

    server: LiveServer
    oidc: OIDCProvider
    atproto: AtprotoNetwork
    console: Console
    shots: Path
    ada: Side
    bob: Side
    bluesky: AtprotoAccount
    oidc_login: str = field(default_factory=lambda: f"ada{secrets.token_hex(3)}")
    invitation: str = ""
    phone: str = field(default_factory=lambda: f"+39 347 {secrets.randbelow(10**7):07d}")


def _shots() -> Path:
    where = os.environ.get("PORTAL_SCREENSHOTS")
    directory = Path(where) if where else REPO / "test-artifacts" / "journey"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


async def _no_web_fonts(route: Route) -> None:
    await route.fulfill(status=200, content_type="text/css", body="")


async def _new_side(browser: Browser, server: LiveServer, console: Console, name: str) -> Side:
    context = await browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    context.on("page", console.watch)
    # The provider's development pages import a web font; this machine has no Internet.
    await context.route("https://fonts.googleapis.com/**", _no_web_fonts)
    return Side(new_person(name), context, await context.new_page())


async def _go(page: Page, place: str) -> None:
    """Follow one of the header's links (the account menu's too), as a person does."""
    nav = page.get_by_role("navigation", name="Main")
    # Notifications carries the count of the unread ones.
    link = nav.get_by_role("link", name=re.compile(rf"^{re.escape(place)}( \d+)?$"))
    if not await link.is_visible():
        await open_account_menu(page)
    await link.click()


# -- the legs ---------------------------------------------------------------------------------


async def _ada_signs_up_and_links_her_accounts(j: Journey) -> None:
    page = j.ada.page
    await confirmed_sign_up(page, j.ada.person)
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 1 of 3")
    await expect(page.get_by_text("No account is linked yet.")).to_be_visible()

    # Bluesky is among the guide's first networks; it is linked through the PDS's own
    # authorization pages, and the person comes back to the guided start.
    await page.get_by_role("link", name="Add your Bluesky account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add your Bluesky account")
    oauth = page.get_by_role("region", name="Verified, by signing in on Bluesky")
    await oauth.get_by_label("Handle").fill(j.bluesky.handle)
    await oauth.get_by_role("button", name="Continue to Bluesky").click()
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(j.atproto.pds_url) + "/"))
    await _sign_in_on_the_pds(page, j.bluesky)
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await expect(page.locator("#toasts")).to_contain_text("The account is linked and verified.")
    await expect(page.get_by_test_id("guide-linked")).to_contain_text(j.bluesky.handle)

    # The test provider is not among the first networks: the full list has it.
    await page.get_by_role("link", name="Another network").click()
    networks = page.get_by_role("list", name="Networks")
    await networks.locator('li[data-network="oidc"]').get_by_role("link").click()
    await page.get_by_role("button", name=f"Sign in with {PROVIDER_LABEL}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Continue on the network's site"
    )
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(j.oidc.issuer) + "/"))
    await page.get_by_placeholder("Enter any login").fill(j.oidc_login)
    await page.get_by_placeholder("and password").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await expect(page.locator("#toasts")).to_contain_text("The account is linked and verified.")

    # Both are on the guided start's first step, verified; then name search on; the number.
    await _go(page, "Linked accounts")
    await expect(page.get_by_test_id("linked-account")).to_have_count(2)
    for account in await page.get_by_test_id("linked-account").all():
        await expect(account).to_have_attribute("data-status", "verified")
    await page.goto("/me/start")
    linked = page.get_by_test_id("guide-linked")
    await expect(linked).to_contain_text(j.bluesky.handle)
    await expect(linked).to_contain_text(j.oidc_login)
    await page.get_by_role("button", name="Next step").click()
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 2 of 3")
    await page.get_by_label("By my name or handles, in search").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 3 of 3")
    await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
    j.ada.number = digits(await page.get_by_test_id("my-number").inner_text())
    assert len(j.ada.number) == 8
    await page.get_by_role("button", name="Finish").click()
    await expect(page).to_have_url(re.compile(r"/me$"))


async def _sign_in_on_the_pds(page: Page, account: AtprotoAccount) -> None:
    """The PDS's sign-in and consent pages, as a person fills them in."""
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_placeholder("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.get_by_role("button", name=re.compile("^(Accept|Authorize|Allow)$", re.I)).click()


async def _ada_chooses_who_sees_what(j: Journey) -> None:
    page = j.ada.page
    await _go(page, "Linked accounts")
    oidc = page.get_by_label(re.compile(r"^Who sees it: .*" + re.escape(j.oidc_login)))
    bluesky = page.get_by_label(re.compile(r"^Who sees it: .*" + re.escape(j.bluesky.handle)))
    # A new account is shown to anyone: the Bluesky one stays so, the other is narrowed.
    await expect(bluesky).to_have_value("public")
    await oidc.select_option(label="Contacts")
    await expect(page.locator("#toasts")).to_contain_text("Who sees the account is saved.")
    await page.reload()
    await expect(oidc).to_have_value("contacts")
    await expect(bluesky).to_have_value("public")


async def _ada_shares_her_number(j: Journey) -> None:
    page = j.ada.page
    await _go(page, "Share")
    await expect(page.get_by_role("heading", name="Share your number", level=1)).to_be_visible()
    await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
    preview = page.get_by_test_id("card-preview")
    await expect(preview).to_contain_text(j.bluesky.handle)
    await expect(preview).not_to_contain_text(j.oidc_login)

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download the vCard").click()
    download = await download_info.value
    path = await download.path()
    vcard = (await asyncio.to_thread(Path(path).read_bytes)).decode()
    assert "FN:Ada Lovelace\r\n" in vcard
    assert f"/n/{j.ada.number}" in vcard
    assert j.bluesky.handle in vcard
    assert j.oidc_login not in vcard

    await _go(page, "Invite someone you meet")
    await page.get_by_role("button", name="New invitation").click()
    await expect(page.get_by_test_id("invite-qr").locator("svg")).to_be_visible()
    j.invitation = await page.get_by_test_id("invite-link").inner_text()
    assert j.invitation.startswith(f"{j.server.url}/i/")


async def _bob_comes_by_the_invitation_and_asks(j: Journey) -> None:
    page, bob = j.bob.page, j.bob.person
    await page.goto(j.invitation)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    await expect(page.get_by_text("invites you to become mutual contacts")).to_be_visible()
    await expect(page.locator("main")).to_contain_text(j.bluesky.handle)
    await expect(page.locator("main")).not_to_contain_text(j.oidc_login)

    await page.get_by_role("link", name="Get your number").click()
    await page.get_by_label("Your name").fill(bob.name)
    await page.get_by_label("Email").fill(bob.email)
    await page.get_by_label("Password").fill(bob.password)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page).to_have_url(re.compile(r"/email/sent"))
    await page.goto(await mailed_link(page, bob.email))
    await page.get_by_role("button", name="Confirm my email address").click()
    # Back on the invitation, signed in: it could make them contacts at once. Bob asks the
    # long way instead, by her number.
    await expect(page).to_have_url(j.invitation)
    await expect(page.get_by_role("button", name="Accept and become contacts")).to_be_visible()
    j.bob.number = digits(await page.locator("header .menu-number").inner_text())

    await page.get_by_role("link", name="Portal home").click()
    await page.get_by_label("Portal number").fill(f"{j.ada.number[:3]} {j.ada.number[3:]}")
    await page.get_by_role("button", name="Look up").click()
    await expect(page).to_have_url(re.compile(rf"/n/{j.ada.number}$"))
    card = page.locator("article.card")
    await expect(card.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    await expect(card.get_by_role("link", name=j.bluesky.handle)).to_be_visible()
    await expect(card).not_to_contain_text(j.oidc_login)
    await page.get_by_role("button", name="Add as contact").click()
    await expect(page.get_by_text("Request sent")).to_be_visible()


async def _ada_accepts(j: Journey) -> None:
    page = j.ada.page
    # Still on the page of her invitation: the header's badge counts Bob's request at once.
    await expect(page).to_have_url(re.compile(r"/me/invites$"))
    await expect(page.locator("#unread-badge")).to_have_text("1")
    await _go(page, "Notifications")
    await page.get_by_role("link", name="Bob Babbage asked to become your contact.").click()
    await expect(page).to_have_url(re.compile(r"/me/contacts$"))
    asking = page.get_by_role("region", name="Asking to become your contact")
    await expect(asking).to_contain_text("Bob Babbage")
    await asking.get_by_role("button", name="Accept").click()
    await expect(asking).to_have_count(0)
    mine = page.get_by_role("region", name=re.compile("^My contacts"))
    await expect(mine.locator(f'li[data-number="{j.bob.number}"]')).to_contain_text("Bob Babbage")

    bob = j.bob.page
    await _go(bob, "Contacts")
    mine = bob.get_by_role("region", name=re.compile("^My contacts"))
    ada = mine.locator(f'li[data-number="{j.ada.number}"]')
    await expect(ada).to_contain_text("Ada Lovelace")
    await expect(ada).to_contain_text(j.oidc_login)
    await bob.goto(f"/n/{j.ada.number}")
    card = bob.locator("article.card")
    await expect(card).to_contain_text(j.oidc_login)
    await expect(card).to_contain_text(j.bluesky.handle)
    badge = bob.locator("#contact-actions").get_by_text("Contacts", exact=True)
    await expect(badge).to_be_visible()
    # The invitation he did not use knows it is no longer needed.
    await bob.goto(j.invitation)
    await expect(bob.get_by_text("You are already contacts.")).to_be_visible()


async def _bob_finds_ada_by_name_and_by_phone(j: Journey) -> None:
    bob, ada = j.bob.page, j.ada.page
    await _go(bob, "Find people")
    await bob.get_by_label("Name or handle").fill("Ada")
    await bob.get_by_role("button", name="Search", exact=True).click()
    found = bob.get_by_role("article", name="Ada Lovelace")
    await expect(found).to_contain_text(j.bluesky.handle)

    # Ada verifies a phone number and lets people who have it find her.
    await ada.goto("/me/phone")
    await ada.get_by_label("Phone number").fill(j.phone)
    await ada.get_by_role("button", name="Send a code").click()
    await ada.get_by_label("Code").fill(await _texted_code(j.server, j.phone))
    await ada.get_by_role("button", name="Verify").click()
    await expect(ada.get_by_role("status")).to_have_text("Your phone number is verified.")
    await _go(ada, "My card")
    await ada.get_by_label("By my verified phone number, in address books people upload").check()
    await ada.locator("#privacy-form").get_by_role("button", name="Save").click()
    await expect(ada.locator("#toasts")).to_contain_text("Who sees what is saved.")

    await bob.goto("/me/discover")
    await bob.get_by_label("Phone numbers, one a line").fill(f"Ada {j.phone}\n")
    await bob.get_by_role("button", name="Find").click()
    result = bob.get_by_role("region", name="Found")
    await expect(result.get_by_role("article", name="Ada Lovelace")).to_be_visible()


async def _texted_code(server: LiveServer, phone: str) -> str:
    """The code in the text message the server wrote to its log (the console SMS sender)."""
    e164 = "+" + digits(phone)
    for _ in range(100):
        found = re.findall(
            rf"text message for {re.escape(e164)}: .*?(\d{{6}})", server.log.read_text()
        )
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no text message to {e164}")


async def _both_see_what_happened(j: Journey) -> None:
    await _go(j.ada.page, "Notifications")
    await expect(j.ada.page.locator("#notification-list")).to_contain_text(
        "Bob Babbage asked to become your contact."
    )
    await _go(j.bob.page, "Notifications")
    await expect(j.bob.page.locator("#notification-list")).to_contain_text(
        "Ada Lovelace is now your contact."
    )


async def _bob_follows_ada_and_reads_her_feed(j: Journey) -> None:
    """Bob follows Ada's number: her Bluesky posts come into his feed (read from her PDS by
    the server's poller), he scrolls to the oldest and marks one read."""
    page = j.bob.page
    await page.goto(f"/n/{j.ada.number}")
    await page.get_by_role("button", name="Follow", exact=True).click()
    await expect(page.get_by_role("button", name="Following")).to_be_visible()

    await _go(page, "Feed")
    entries = page.locator("[data-entry]")
    for _ in range(60):  # the poller reads a new account's feed within seconds
        if await entries.count():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(entries).to_have_count(20)
    newest = entries.first
    await expect(newest).to_contain_text(f"{POSTS - 1}. Notes on the analytical engine")
    await expect(newest.locator(".entry-person")).to_contain_text("Ada Lovelace")
    await expect(newest.locator(f'.entry-person a[href="/n/{j.ada.number}"]')).to_be_visible()
    await page.locator(".feed-more").scroll_into_view_if_needed()
    await expect(entries).to_have_count(POSTS)
    await expect(page.get_by_text("You have reached the oldest entry.")).to_be_visible()

    read = newest.locator('button[data-key="m"]')
    await read.click()
    await expect(read).to_have_attribute("aria-pressed", "true")
    await page.goto("/feed?unread=1")
    await expect(entries).to_have_count(20)
    await expect(entries.first).not_to_contain_text(f"{POSTS - 1}. Notes")


async def _photograph(j: Journey) -> None:
    """Bob's home, Ada's card, his search for her and his contacts: every language, theme
    and width, each checked for what breaks a page in another language or on a phone."""
    page = j.bob.page
    pages = {
        "home": "/",
        "card": f"/n/{j.ada.number}",
        "lookup": "/search?q=Ada",
        "contacts": "/me/contacts",
        "feed": "/feed",
    }
    for language in LANGUAGES:
        switcher = page.locator("footer form.language")
        await switcher.locator("select").select_option(language)
        await switcher.locator("button[type=submit]").click()
        await expect(page.locator("html")).to_have_attribute("lang", language)
        for name, path in pages.items():
            await page.goto(path)
            await expect(page.locator("html")).to_have_attribute("lang", language)
            text = await page.locator("body").inner_text()
            raw = [mark for mark in _RAW if mark in text]
            assert not raw, f"{path} in {language} shows raw placeholders {raw}"
            for theme in THEMES:
                # Reduced motion: the theme's colours at once, not halfway through a transition.
                await page.emulate_media(color_scheme=theme, reduced_motion="reduce")
                for width in WIDTHS:
                    await page.set_viewport_size({"width": width, "height": HEIGHT})
                    await no_sideways_scroll(page)
                    await screenshot(page, j.shots / f"{name}-{language}-{theme}-{width}.png")


LEGS: list[Callable[[Journey], Awaitable[None]]] = [
    _ada_signs_up_and_links_her_accounts,
    _ada_chooses_who_sees_what,
    _ada_shares_her_number,
    _bob_comes_by_the_invitation_and_asks,
    _ada_accepts,
    _bob_finds_ada_by_name_and_by_phone,
    _both_see_what_happened,
    _bob_follows_ada_and_reads_her_feed,
    _photograph,
]
"""The journey, in order; see the module's docstring for how to add a leg."""


async def test_two_people_meet_on_portal(
    browser: Browser,
    server: LiveServer,
    oidc_provider: OIDCProvider,
    atproto_network: AtprotoNetwork,
    console: Console,
) -> None:
    bluesky = await atproto_network.create_account("ada", display_name="Ada L.")
    for n in range(POSTS):  # what Bob reads once he follows her
        record = {
            "$type": "app.bsky.feed.post",
            "text": f"{n}. Notes on the analytical engine",
            "createdAt": f"2026-11-{1 + n:02d}T09:00:00.000Z",
        }
        await atproto_network.xrpc(
            "com.atproto.repo.createRecord",
            {"repo": bluesky.did, "collection": "app.bsky.feed.post", "record": record},
            token=bluesky.access_jwt,
        )
    ada = await _new_side(browser, server, console, "Ada Lovelace")
    bob = await _new_side(browser, server, console, "Bob Babbage")
    journey = Journey(server, oidc_provider, atproto_network, console, _shots(), ada, bob, bluesky)
    try:
        for leg in LEGS:
            await leg(journey)
    except Exception:
        # Where each of them was when it failed.
        for side in (ada, bob):
            if not side.page.is_closed():
                await screenshot(side.page, journey.shots / f"failed-{side.person.name}.png")
        raise
    finally:
        await ada.context.close()
        await bob.context.close()
