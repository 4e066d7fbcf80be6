"""Every page a person can reach, checked by axe-core in Debian's Chromium on ``portal serve``:
signed out and signed in, in the light and the dark theme, at 1280 px and on a phone, in
English, and in Italian and French in each theme at one of the widths. A page
may have no violation that axe rates serious or critical (its default rules: WCAG 2 A and AA,
and its best practices). And the keyboard alone reaches /me's main actions with a visible
focus ring, and opens the header's account menu.

axe-core comes from the npm registry as a devDependency (``make test`` runs ``npm ci``); it is
a test tool, never served by the portal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portal import i18n
from portal.db import make_engine
from portal.domain import number as numbers
from portal.storage.messages import Message, MessageCopy
from portal.storage.models import (
    Contact,
    ContactRequest,
    LinkedAccount,
    Notification,
    User,
    utcnow,
)
from portal.storage.posts import Delivery, Post
from tests.fixtures.browser import (
    PHONE,
    Console,
    new_person,
    open_account_menu,
    sign_up,
)
from tests.fixtures.live import LiveServer
from tests.portal.doors import all_routes

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"

SIGNED_OUT = {
    "/": "/",
    "/signin": "/signin",
    "/signup": "/signup",
    "/password/forgot": "/password/forgot",
    "/password/reset": "/password/reset?token=no-such-link",
    "/email/sent": "/email/sent",
    "/email/confirm": "/email/confirm?token=no-such-link",
    "/lookup": "/lookup?number=12",  # the home page with the number box's error
    "/n/{number}": "/n/{number}",
    "/i/{secret}": "/i/{secret}",
    "/embed/{number}": "/embed/{number}",
    "/offline": "/offline",
    "/p/{post_id}": "/p/{post_id}",
}
"""Each page route, and the address the test opens it at, signed out."""

SIGNED_IN = {
    "/me": "/me",
    "/me/accounts": "/me/accounts",
    "/me/accounts/add": "/me/accounts/add?network=telegram",
    "/me/accounts/{account_id}/code": "/me/accounts/{account_id}/code",
    "/me/accounts/{account_id}/edit": "/me/accounts/{account_id}/edit",
    "/me/accounts/{account_id}/mailbox": "/me/accounts/{account_id}/mailbox",
    "/me/contacts": "/me/contacts",
    "/me/contacts/{number}/actions": "/me/contacts/{contact}/actions",
    "/me/contacts/blocked": "/me/contacts/blocked",
    "/me/notifications": "/me/notifications",
    "/search": "/search?q=Grace",
    "/me/share": "/me/share",
    "/me/invites": "/me/invites",
    "/me/tokens": "/me/tokens",
    "/me/reach": "/me/reach",
    "/me/phone": "/me/phone",
    "/me/password": "/me/password",
    "/me/email": "/me/email",
    "/me/delete": "/me/delete",
    "/me/discover": "/me/discover",
    "/me/start": "/me/start",
    "/feed": "/feed",
    "/feed/sources": "/feed/sources",
    "/feed/digest": "/feed/digest",
    "/posts": "/posts",
    "/posts/new": "/posts/new",
    "/posts/{post_id}": "/posts/{post_id}",
    "/posts/{post_id}/edit": "/posts/{post_id}/edit",
    "/messages/new": "/messages/new?to={contact}",
    "/messages/{message_id}": "/messages/{message_id}",
    "/conversations": "/conversations",
    "/conversations/{number}": "/conversations/{contact}",
}
"""Each page route, and the address the test opens it at, signed in."""

MORE = (
    "/me/start?step=2",  # the guided start's other steps
    "/me/start?step=3",
    "/me/accounts?linked=1",  # the notice of an account linked
    "/me/accounts/add?network=mastodon",
    "/me/accounts/add?network=email",
    "/n/{contact}",  # another person's page, as their contact sees it
    "/n/{unknown}",  # a number nobody has
    "/no-such-page",  # the not-found page
)
"""Other states of pages listed above, opened signed in."""

MORE_SIGNED_OUT = ("/email/sent?what=reset", "/n/{unknown}", "/no-such-page")
"""Other states of pages listed above, and the not-found pages, opened signed out."""

NOT_PAGES = {
    # Checked on its own: test_the_api_reference_has_no_serious_accessibility_violation_of_ours.
    "/docs": "the API's reference, drawn by Swagger UI",
    "/n/{number}/avatar": "a picture",
    "/n/{number}/qr.svg": "a picture",
    "/n/{number}/qr.png": "a picture",
    "/n/{number}/vcard": "a vCard file",
    "/me/share/vcard": "a vCard file",
    "/embed/{number}.js": "a script",
    "/oauth/bluesky/client-metadata.json": "JSON",
    "/manifest.webmanifest": "JSON",
    "/sw.js": "a script",
    "/me/notifications/stream": "an event stream",
    "/feed/stream": "an event stream",
    "/feed/sources/opml": "an OPML file",
    "/me/notifications/{notification_id:int}": "a redirect to where the notification points",
    "/me/accounts/{network}/callback": "a redirect back from a network's own site",
    "/feeds/{secret}.atom": "one's feed as Atom",
    "/feeds/{secret}.json": "one's feed as JSON Feed",
    "/feed/images/{signature}/{encoded}": "a picture of a feed's entry",
    "/posts/{post_id}/stream": "an event stream",
    "/posts/media/{media_id}": "a picture of a post",
    "/p/{post_id}/{position}": "a picture of a post",
    "/pictures/{token}": "a picture of a post, for the network that takes it",
    "/messages/{message_id}/picture": "the picture of a message, for its writer and recipient",
}
"""GET routes outside /api that render no page, and what they answer instead."""

SIZES = {"wide": {"width": 1280, "height": 900}, "phone": PHONE}
SCHEMES = ("light", "dark")
LANGUAGES = {
    "en": [(scheme, size) for scheme in SCHEMES for size in SIZES],
    # Longer labels can break contrast, names or layout: each theme once, at both widths.
    "it": [("light", "phone"), ("dark", "wide")],
    "fr": [("light", "wide"), ("dark", "phone")],
}
"""The languages the pages are checked in, each in these themes and widths."""


def test_every_page_route_is_checked(app: FastAPI) -> None:
    """A new page must be added to the lists above, and so be checked by axe."""
    routes = {
        route.path
        for route in all_routes(app.routes)
        if "GET" in route.methods and not route.path.startswith(("/api/", "/healthz", "/readyz"))
    }
    assert len(routes) >= 30  # the walk does find the routes
    listed = set(SIGNED_OUT) | set(SIGNED_IN) | set(NOT_PAGES)
    assert not routes - listed, f"GET routes checked by no test: {sorted(routes - listed)}"
    assert not listed - routes, f"listed but gone: {sorted(listed - routes)}"


@dataclass(frozen=True)
class _Place:
    number: str
    contact: str
    account_id: int
    secret: str


POST_ID = "axe-post-0001"
MESSAGE_ID = "axe-message-0001"


async def _add_post(conn: AsyncConnection, me: int | None) -> None:
    """A working Mastodon account, and a post it published with one delivery that failed."""
    publisher = await conn.scalar(
        insert(LinkedAccount)
        .values(user_id=me, network="mastodon", handle="ada@mastodon.example",
                server="mastodon.example", audience="public", position=3, status="verified")
        .returning(LinkedAccount.id)
    )  # fmt: skip
    await conn.execute(
        insert(Post).values(id=POST_ID, user_id=me, text="Hello, networks!", state="published")
    )
    await conn.execute(
        insert(Delivery),
        [
            {"post_id": POST_ID, "account_id": publisher, "network": "mastodon",
             "handle": "ada@mastodon.example", "status": "sent", "key": "axe-1",
             "remote_url": "https://mastodon.example/@ada/1", "sent_at": utcnow(), "error": ""},
            {"post_id": POST_ID, "account_id": None, "network": "bluesky",
             "handle": "ada.example.org", "status": "failed", "key": "axe-2", "remote_url": None,
             "sent_at": None, "error": "This account is no longer linked to your number."},
        ],
    )  # fmt: skip


async def _add_message(conn: AsyncConnection, me: int | None, other: int | None) -> None:
    """A message to the contact, delivered on one messenger and failed on another."""
    await conn.execute(
        insert(Message).values(
            id=MESSAGE_ID, sender_id=me, recipient_id=other, text="Tea at five?", mode="all",
            created_at=utcnow(), updated_at=utcnow(),
        )
    )  # fmt: skip
    await conn.execute(
        insert(MessageCopy),
        [
            {"message_id": MESSAGE_ID, "position": 0, "network": "matrix", "status": "sent",
             "to_handle": "@grace:matrix.example", "key": "axe-m-1", "sent_at": utcnow(),
             "error": "", "attempts": 1, "updated_at": utcnow()},
            {"message_id": MESSAGE_ID, "position": 1, "network": "xmpp", "status": "failed",
             "to_handle": "grace@xmpp.example", "key": "axe-m-2", "sent_at": None,
             "error": "XMPP could not be reached.", "attempts": 1, "updated_at": utcnow()},
        ],
    )  # fmt: skip


async def _add_content(server: LiveServer, number: str, contact: str) -> int:
    """Two linked accounts (one waiting for its emailed code), a contact, a contact request
    and a notification, straight into the server's database; the emailed account's id."""
    engine = make_engine(server.database_url)
    try:
        async with engine.begin() as conn:
            me = await conn.scalar(select(User.id).where(User.number == number))
            other = await conn.scalar(select(User.id).where(User.number == contact))
            await conn.execute(
                insert(LinkedAccount),
                [
                    {"user_id": me, "network": "telegram", "handle": "ada_l",
                     "audience": "public", "position": 0, "status": "unverified"},
                    {"user_id": me, "network": "signal", "handle": "ada.42",
                     "audience": "contacts", "position": 1, "status": "unverified"},
                    {"user_id": me, "network": "email", "handle": "ada@example.org",
                     "audience": "members", "position": 2, "status": "unverified"},
                    {"user_id": other, "network": "telegram", "handle": "grace_h",
                     "audience": "contacts", "position": 0, "status": "unverified"},
                ],
            )  # fmt: skip
            await conn.execute(
                insert(Contact),
                [{"owner_id": me, "other_id": other}, {"owner_id": other, "other_id": me}],
            )
            await conn.execute(
                insert(Notification),
                [{"user_id": me, "kind": "contact_accepted", "actor_id": other}],
            )
            await conn.execute(
                insert(ContactRequest), [{"sender_id": other, "recipient_id": me, "message": "Hi"}]
            )
            await _add_post(conn, me)
            await _add_message(conn, me, other)
            account_id = await conn.scalar(
                select(LinkedAccount.id).where(
                    LinkedAccount.user_id == me, LinkedAccount.network == "email"
                )
            )
    finally:
        await engine.dispose()
    assert account_id is not None
    return account_id


async def _set_up(browser: Browser, server: LiveServer, console: Console) -> tuple[Page, _Place]:
    """Grace signs up, then Ada, who has content; Ada's page (signed in) and her places."""
    context = await browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    context.on("page", console.watch)
    page = await context.new_page()
    contact = await sign_up(page, new_person("Grace Hopper"))
    await context.clear_cookies()
    number = await sign_up(page, new_person("Ada Lovelace"))
    account_id = await _add_content(server, number, contact)
    await page.goto("/me/invites")
    await page.get_by_role("button", name="New invitation").click()
    secret = (await page.get_by_test_id("invite-link").inner_text()).rsplit("/i/", 1)[1]
    return page, _Place(number, contact, account_id, secret)


async def _axe(page: Page, source: str, excused: dict[str, str] | None = None) -> list[str]:
    """The serious and critical violations axe finds on the page, one line for each element:
    the rule, the element's selector, the failure and where to read about the fix. A rule of
    ``excused`` is not counted on the elements inside its selector."""
    # The pages' Content-Security-Policy (script-src 'self') refuses the inline <script> that
    # page.add_script_tag(content=...) adds ("Executing inline script violates ... 'self'").
    # page.evaluate runs through the DevTools protocol, which the policy does not govern: axe
    # is evaluated there, in the page's own world, and the page stays as it is served (no
    # route of the test's own, no policy bypassed).
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(source)
    results: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    found = []
    for rule in results["violations"]:
        if rule["impact"] not in ("serious", "critical"):
            continue
        for node in rule["nodes"]:
            if excused and rule["id"] in excused and await _inside(page, node, excused[rule["id"]]):
                continue
            found.append(
                f"{page.url} [{rule['impact']}] {rule['id']}: {json.dumps(node['target'])}\n"
                f"    {rule['help']} ({rule['helpUrl']})\n    {node['failureSummary']}"
            )
    return found


async def _inside(page: Page, node: dict[str, Any], selector: str) -> bool:
    """Whether the element axe reports (by its selector path) is inside ``selector``."""
    target = node["target"]
    if len(target) != 1 or not isinstance(target[0], str):
        return False  # inside a frame or a shadow root: never excused
    inside: bool = await page.evaluate(
        "([target, selector]) => !!document.querySelector(target)?.closest(selector)",
        [target[0], selector],
    )
    return inside


@pytest.mark.browser
@pytest.mark.presentation
@pytest.mark.slow
async def test_every_page_has_no_serious_accessibility_violation(
    browser: Browser, server: LiveServer, console: Console
) -> None:
    assert AXE.exists(), f"{AXE} is missing: run `make assets` (npm ci)"
    source = AXE.read_text(encoding="utf-8")
    page, place = await _set_up(browser, server, console)
    console.expect_status(401, 404, 422)  # not-found pages, the number box and sign-in errors
    fill = {
        "{number}": place.number,
        "{contact}": place.contact,
        "{account_id}": str(place.account_id),
        "{secret}": place.secret,
        "{post_id}": POST_ID,
        "{message_id}": MESSAGE_ID,
        "{unknown}": numbers.generate(8),
    }

    def address(path: str) -> str:
        for key, value in fill.items():
            path = path.replace(key, value)
        return path

    signed_in = [address(p) for p in (*SIGNED_IN.values(), *MORE)]
    signed_out = [address(p) for p in (*SIGNED_OUT.values(), *MORE_SIGNED_OUT)]
    stranger = await browser.new_context(base_url=server.url)
    stranger.set_default_timeout(10_000)
    stranger.on("page", console.watch)
    visitor = await stranger.new_page()
    found: list[str] = []
    try:
        for language, combinations in LANGUAGES.items():
            for context in (page.context, stranger):
                cookie = {"name": i18n.LANG_COOKIE, "value": language, "url": server.url}
                await context.add_cookies([cookie])
            # Each page is loaded once per language, then seen in each theme and width: the
            # media query and the layout follow the emulated scheme and the new size at once.
            for who, paths in ((page, signed_in), (visitor, signed_out)):
                for path in paths:
                    await who.goto(path)
                    for scheme, size_name in combinations:
                        where = await _view(who, language, scheme, size_name)
                        for line in await _axe(who, source):
                            found.append(f"{where}: {line}")
            for scheme, size_name in combinations:
                for who in (page, visitor):
                    where = await _view(who, language, scheme, size_name)
                for state in STATES:
                    shown = await _show(state, page, visitor, language, place)
                    for line in await _axe(shown, source):
                        found.append(f"{where}, {state}: {line}")
    finally:
        await stranger.close()
        await page.context.close()
    assert not found, f"{len(found)} serious or critical violations:\n" + "\n".join(found)


async def _view(page: Page, language: str, scheme: str, size_name: str) -> str:
    """Show ``page`` in ``scheme`` at the width ``size_name``; where that is, for a message."""
    size = SIZES[size_name]
    # Reduced motion: a toast is measured as it is shown, not half faded in.
    await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    await page.set_viewport_size(size)
    return f"{language}, {scheme}, {size['width']}px"


STATES = ("saved, menu open", "a handle in its form", "form error", "dialog open")
"""What the addresses alone do not show: a form answered through htmx (and its toast) with the
header's account menu open, a linked account's handle in its form, a form answered with its
error, and the question of a destructive action."""


async def _show(state: str, page: Page, visitor: Page, language: str, place: _Place) -> Page:
    """Bring a page into one of the :data:`STATES`, in ``language``; that page."""

    def _(message: str) -> str:
        return i18n.translate(language, message)

    if state == "saved, menu open":
        await page.goto("/me")
        profile = page.get_by_role("region", name=_("Profile"))
        await profile.get_by_role("button", name=_("Save")).click()
        await expect(page.get_by_text(_("Your profile is saved."))).to_be_visible()
        await open_account_menu(page)
        return page
    if state == "dialog open":
        await page.goto("/me/accounts")
        unlink = re.compile("^" + re.escape(_("Unlink")) + ": ")
        await page.get_by_role("button", name=unlink).first.click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        return page
    if state == "a handle in its form":
        await page.goto("/me/accounts")
        await page.locator(f'a[href="/me/accounts/{place.account_id}/edit"]').click()
        await expect(page.locator("form.handle-form input[name=handle]")).to_be_focused()
        return page
    await visitor.goto("/signin")
    nobody = new_person("Nobody")
    await visitor.get_by_label(_("Email")).fill(nobody.email)
    await visitor.get_by_label(_("Password")).fill(nobody.password)
    await visitor.get_by_role("button", name=_("Sign in")).click()
    await expect(visitor.get_by_role("alert")).to_be_visible()
    return visitor


SWAGGER_UI_OWN: dict[str, str] = {}
"""Rules that Swagger UI's own generated widgets break, which we cannot fix without patching
its vendored bundle: each rule, and a selector of the widgets it is excused on (a violation
anywhere else, or of another rule, fails the test). None now: the request body's editor,
drawn without a name, is named by static/docs.js; colours are static/docs.css's."""


@pytest.mark.browser
@pytest.mark.presentation
async def test_the_api_reference_has_no_serious_accessibility_violation_of_ours(
    browser: Browser, server: LiveServer, console: Console
) -> None:
    source = AXE.read_text(encoding="utf-8")
    context = await browser.new_context(base_url=server.url)
    context.set_default_timeout(20_000)
    context.on("page", console.watch)
    page = await context.new_page()
    found: list[str] = []
    try:
        for scheme in SCHEMES:
            for size in SIZES.values():
                await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
                await page.set_viewport_size(size)
                await page.goto("/docs")
                # An operation opened and tried out, so that its parameters, examples, form
                # and buttons are drawn.
                await page.locator(".opblock-summary-control").first.click()
                await page.get_by_role("button", name="Try it out").first.click()
                await expect(page.get_by_role("button", name="Execute").first).to_be_visible()
                editor = page.locator("textarea.body-param__text").first
                await expect(editor).to_have_attribute("aria-label", "Request body")
                for line in await _axe(page, source, excused=SWAGGER_UI_OWN):
                    found.append(f"{scheme}, {size['width']}px: {line}")
    finally:
        await context.close()
    assert not found, f"{len(found)} serious or critical violations:\n" + "\n".join(found)


_FOCUS_RING = """(element) => {
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== "none";
  return {
    visible: element.matches(":focus-visible") && (outline || shadow),
    tag: element.tagName.toLowerCase(),
    text: (element.innerText || element.getAttribute("aria-label") || element.value || "").trim(),
  };
}"""


@pytest.mark.browser
@pytest.mark.presentation
@pytest.mark.parametrize("size", SIZES)
async def test_the_keyboard_reaches_the_main_actions_with_a_visible_focus(
    page: Page, size: str
) -> None:
    await page.set_viewport_size(SIZES[size])
    await sign_up(page, new_person("Ada Lovelace"))
    await page.goto("/me")
    await page.locator("body").focus()
    seen: list[dict[str, Any]] = []
    for _ in range(40):
        await page.keyboard.press("Tab")
        focused = page.locator(":focus")
        if await focused.count() == 0:
            break
        info = await focused.evaluate(_FOCUS_RING)
        seen.append(info)
        assert info["visible"], f"no visible focus ring on {info}"
    texts = [info["text"] for info in seen]
    # The skip link, the header's places, /me's actions and its profile form are on the way.
    for wanted in ("Skip to content", "Contacts", "Share your number", "Save", "Linked accounts"):
        assert any(wanted in text for text in texts), (wanted, texts)

    # The account menu opens from the keyboard, and its links are reached by Tab.
    await page.goto("/me")
    menu = page.locator("header nav details.menu")
    summary = menu.locator("summary")
    await summary.focus()
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("open", "")
    links = menu.locator("a, button")
    count = await links.count()
    assert count >= 2
    for index in range(count):
        await page.keyboard.press("Tab")
        assert await links.nth(index).evaluate("(e) => e === document.activeElement"), index
        info = await links.nth(index).evaluate(_FOCUS_RING)
        assert info["visible"], f"no visible focus ring on {info}"
