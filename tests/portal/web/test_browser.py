"""The portal as a person uses it: Debian's Chromium, driven by Playwright, on ``portal serve``.

The browser, the watch on every page's console and the helpers are in tests/fixtures/browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, Request, expect

from portal.domain.number import display, is_valid
from tests.fixtures.browser import (
    PHONE,
    Console,
    digits,
    mailed_link,
    new_person,
    no_sideways_scroll,
    open_account_menu,
    screenshot,
    scriptless_page,
    sign_in,
    sign_up,
)
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.browser


async def test_a_new_number_is_valid_and_leads_to_the_public_page(
    page: Page, console: Console, shots: Path
) -> None:
    console.expect_status(422)
    ada = new_person("Ada Lovelace")
    await page.goto("/")
    await screenshot(page, shots / "home.png")
    await page.get_by_role("button", name="Get your number", exact=True).click()

    await page.get_by_label("Your name").fill(ada.name)
    await page.get_by_label("Email").fill(ada.email)
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create my account").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Choose a password of at least 10 characters."
    )
    await expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Email")).to_have_value(ada.email)
    await screenshot(page, shots / "signup-error.png")

    await page.get_by_label("Password").fill(ada.password)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page).to_have_url(re.compile(r"/email/sent"))
    await page.goto(await mailed_link(page, ada.email))
    await page.get_by_role("button", name="Confirm my email address").click()
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 1 of 3")
    await page.get_by_role("button", name="Skip").click()
    await expect(page).to_have_url(re.compile(r"/me$"))
    shown = await page.get_by_test_id("my-number").inner_text()
    number = digits(shown)
    assert len(number) == 8
    assert is_valid(number)
    assert shown == display(number)

    await page.get_by_role("link", name="See my public page").click()
    await expect(page).to_have_url(re.compile(rf"/n/{number}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(ada.name)
    await expect(page.get_by_role("main").get_by_text(display(number))).to_be_visible()

    await page.goto("/")
    await page.get_by_label("Portal number").fill(f"{number[:3]}-{number[3:6]} {number[6:]}")
    await page.get_by_role("button", name="Look up").click()
    await expect(page).to_have_url(re.compile(rf"/n/{number}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(ada.name)

    mistyped = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    assert not is_valid(mistyped)
    await page.goto("/")
    await page.get_by_label("Portal number").fill(display(mistyped))
    await page.get_by_role("button", name="Look up").click()
    await expect(page.get_by_role("alert")).to_contain_text("This number has a typo")
    await expect(page).to_have_url(re.compile(r"/lookup\?"))
    await expect(page.get_by_label("Portal number")).to_have_value(display(mistyped))
    await expect(page.get_by_role("heading", name=ada.name)).to_have_count(0)
    await screenshot(page, shots / "lookup-typo.png")


async def test_session_cookie_is_secure_http_only_and_works_on_localhost(
    page: Page, context: BrowserContext
) -> None:
    """Browsers treat 127.0.0.1 as a secure origin, so a ``Secure`` cookie works over http."""
    number = await sign_up(page, new_person("Grace Hopper"))
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session = cookies["portal_session"]
    assert session["secure"] and session["httpOnly"]
    assert session["sameSite"] == "Lax"
    assert cookies["portal_csrf"]["secure"] and cookies["portal_csrf"]["httpOnly"]
    assert "portal_session" not in await page.evaluate("document.cookie")

    await page.goto("/me")
    await expect(page).to_have_url(re.compile(r"/me$"))
    await expect(page.get_by_test_id("my-number")).to_have_text(display(number))


async def test_profile_is_saved_through_htmx_and_the_picture_shows(
    page: Page, console: Console, shots: Path, tmp_path: Path
) -> None:
    console.expect_status(422)
    number = await sign_up(page, new_person("Alan Turing"))
    await page.evaluate("window.stillTheSamePage = true")

    await page.get_by_label("Name", exact=True).fill("Alan M. Turing")
    await page.get_by_label("About you", exact=True).fill("Computable numbers.\nMorphogenesis.")
    await page.get_by_role("region", name="Profile").get_by_role("button", name="Save").click()
    saved = page.get_by_role("status").filter(has_text="Your profile is saved.")
    await expect(saved).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"

    await page.get_by_label("Name", exact=True).fill("   ")
    await page.get_by_role("region", name="Profile").get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_have_text("Enter a name.")
    await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"

    await page.reload()
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Alan M. Turing")
    await expect(page.get_by_label("About you", exact=True)).to_have_value(
        "Computable numbers.\nMorphogenesis."
    )

    picture = tmp_path / "me.png"
    Image.new("RGB", (300, 200), (31, 111, 235)).save(picture)
    await page.get_by_label("Choose a picture").set_input_files(picture)
    await page.get_by_role("button", name="Upload").click()
    avatar = page.get_by_role("img", name="Your picture")
    await expect(avatar).to_be_visible()
    # Shown is not yet loaded: wait (within the usual timeout) for the picture to arrive.
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await avatar.element_handle()
    )
    await expect(page.get_by_role("button", name="Remove picture")).to_be_visible()
    await screenshot(page, shots / "me.png")
    await no_sideways_scroll(page)

    await page.set_viewport_size(PHONE)
    await page.reload()
    await expect(page.get_by_test_id("my-number")).to_be_visible()
    await screenshot(page, shots / "me-phone.png")
    await no_sideways_scroll(page)

    await page.goto(f"/n/{number}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Alan M. Turing")
    await expect(page.get_by_text("Computable numbers.")).to_be_visible()
    card_picture = page.locator("article img")
    assert await card_picture.evaluate("img => img.complete && img.naturalWidth") > 0
    await no_sideways_scroll(page)


async def test_blocking_someone_asks_first_and_says_it_is_done(
    page: Page, browser: Browser, server: LiveServer
) -> None:
    other = await browser.new_context(base_url=server.url)
    try:
        grace = await sign_up(await other.new_page(), new_person("Grace Hopper"))
    finally:
        await other.close()
    await sign_up(page, new_person("Ada Lovelace"))
    await page.goto(f"/n/{grace}")
    actions = page.locator("#contact-actions")
    dialog = page.get_by_role("dialog")
    await actions.get_by_role("button", name="Block").click()
    await expect(dialog).to_contain_text("They will no longer be able to ask")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(actions.get_by_role("button", name="Add as contact")).to_be_visible()

    await actions.get_by_role("button", name="Block").click()
    await dialog.get_by_role("button", name="Block").click()
    await expect(actions.get_by_text("Blocked", exact=True)).to_be_visible()
    said = page.get_by_role("status").filter(has_text="Blocked: they can no longer ask")
    await expect(said).to_be_visible()
    await actions.get_by_role("button", name="Unblock").click()  # nothing lost: no question
    await expect(page.get_by_role("status").filter(has_text="Unblocked.")).to_be_visible()
    # The buttons swapped in by htmx ask too.
    await actions.get_by_role("button", name="Block").click()
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(actions.get_by_role("button", name="Block")).to_be_focused()


async def test_profile_form_works_without_javascript(browser: Browser, server: LiveServer) -> None:
    async with scriptless_page(browser, server) as page:
        await sign_up(page, new_person("Edsger Dijkstra"))
        await page.get_by_label("Name", exact=True).fill("E. W. Dijkstra")
        await page.get_by_role("region", name="Profile").get_by_role("button", name="Save").click()
        saved = page.get_by_role("status").filter(has_text="Your profile is saved.")
        await expect(saved).to_be_visible()
        await page.goto("/me")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("E. W. Dijkstra")


async def test_api_token_is_shown_once_works_and_can_be_revoked(
    context: BrowserContext, page: Page, server: LiveServer, console: Console, shots: Path
) -> None:
    console.expect_status(422)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    number = await sign_up(page, new_person("Barbara Liskov"))
    await open_account_menu(page)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    await expect(page.get_by_text("You have no tokens.")).to_be_visible()

    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_role("alert")).to_have_text("Enter a name.")
    await expect(page.get_by_label("What is it for?")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("What is it for?").fill("Backup script")
    await page.get_by_role("button", name="Create token").click()
    secret = (await page.get_by_test_id("new-token").inner_text()).strip()
    assert len(secret) >= 20
    # The copy button came with the swapped-in token, and copies exactly the token.
    new_token = page.get_by_role("group", name="Your new token")
    await new_token.get_by_role("button", name="Copy").click()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    row = page.get_by_role("row").filter(has_text="Backup script")
    await expect(row).to_have_count(1)
    await expect(page.get_by_label("What is it for?")).to_have_value("")
    await screenshot(page, shots / "tokens.png")
    await no_sideways_scroll(page)

    async with httpx.AsyncClient(base_url=server.url) as api:
        bearer = {"authorization": f"Bearer {secret}"}
        me = await api.get("/api/v1/me", headers=bearer)
        assert me.status_code == 200, me.text
        assert me.json()["number"] == number

        await page.reload()
        await expect(page.get_by_test_id("new-token")).to_have_count(0)
        await expect(row).to_contain_text(secret[-4:])
        assert secret not in await page.content()

        await page.set_viewport_size(PHONE)
        await screenshot(page, shots / "tokens-phone.png")
        await no_sideways_scroll(page)

        revocations: list[Request] = []
        page.on("request", lambda r: revocations.append(r) if "/revoke" in r.url else None)
        # Revoking asks first: Cancel keeps the token.
        dialog = page.get_by_role("dialog")
        await row.get_by_role("button", name="Revoke").click()
        await expect(dialog).to_have_accessible_name(
            'Revoke the token "Backup script"? Programs using it will stop working.'
        )
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        await expect(row).to_have_count(1)

        await row.get_by_role("button", name="Revoke").click()
        await dialog.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_text("You have no tokens.")).to_be_visible()
        revoked = page.get_by_role("status").filter(has_text="The token is revoked")
        await expect(revoked).to_be_visible()
        await expect(row).to_have_count(0)
        assert len(revocations) == 1, "dismissing the question still sent the revocation"

        refused = await api.get("/api/v1/me", headers=bearer)
        assert refused.status_code == 401


async def test_sign_out_sign_in_change_password_and_delete(
    page: Page, context: BrowserContext, console: Console
) -> None:
    console.expect_status(401, 404, 422)
    katherine = new_person("Katherine Johnson")
    number = await sign_up(page, katherine)

    await open_account_menu(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert "portal_session" not in {c["name"] for c in await context.cookies()}

    await page.goto("/me")
    await expect(page).to_have_url(re.compile(r"/signin\?next=/me$"))
    await sign_in(page, katherine)
    await expect(page).to_have_url(re.compile(r"/me$"))
    await expect(page.get_by_test_id("my-number")).to_have_text(display(number))

    new_password = "orbital mechanics 1962"
    await page.get_by_role("link", name="Change password").click()
    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password").fill(new_password)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("alert")).to_have_text("Your current password is wrong.")
    await expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Current password").fill(katherine.password)
    await page.get_by_label("New password").fill(new_password)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password was changed.")

    await open_account_menu(page)
    await page.get_by_role("button", name="Sign out").click()
    await page.goto("/signin")
    await sign_in(page, katherine)
    await expect(page.get_by_role("alert")).to_have_text(
        "The email address or the password is wrong."
    )
    await sign_in(page, katherine, new_password)
    await expect(page).to_have_url(re.compile(r"/me$"))

    await page.get_by_role("link", name="Delete account").click()
    await page.get_by_label("Your password, to confirm").fill(new_password)
    await page.get_by_role("button", name="Delete my account for good").click()
    await expect(page).to_have_url(re.compile(r"/\?deleted=1$"))
    deleted = page.get_by_role("status").filter(has_text="Your account was deleted.")
    await expect(deleted).to_be_visible()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    await page.goto(f"/n/{number}")
    await expect(page.get_by_role("alert")).to_have_text(
        "No one has this portal number, or its owner does not show it."
    )
    await page.goto("/signin")
    await sign_in(page, katherine, new_password)
    await expect(page.get_by_role("alert")).to_have_text(
        "The email address or the password is wrong."
    )
    await expect(page).to_have_url(re.compile(r"/signin$"))


async def test_pages_log_no_errors_and_break_no_content_security_policy(
    page: Page, console: Console
) -> None:
    for path in ("/", "/signup", "/signin"):
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.goto("/docs")
    await expect(page.locator("#swagger-ui .info")).to_contain_text("Portal")
    await expect(page.locator("#swagger-ui .opblock").first).to_be_visible()

    number = await sign_up(page, new_person("Frances Allen"))
    steps = ("/me/start", "/me/start?step=2", "/me/start?step=3")
    for path in ("/me", *steps, "/me/password", "/me/delete", "/me/tokens", f"/n/{number}"):
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.get_by_role("link", name="API", exact=True).click()
    await expect(page.locator("#swagger-ui .opblock").first).to_be_visible()
    assert console.errors == []

    # The watch itself sees a violation: an inline style is refused and logged.
    await page.goto("/")
    async with page.expect_console_message(lambda m: m.type == "error") as message:
        await page.evaluate(
            "() => { const s = document.createElement('style'); s.textContent = 'p{}';"
            " document.head.append(s); }"
        )
    assert "Content Security Policy" in (await message.value).text
    assert len(console.errors) == 1
    console.errors.clear()


async def test_sign_up_with_the_keyboard_alone(page: Page) -> None:
    hedy = new_person("Hedy Lamarr")
    await page.goto("/signup")

    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    box = await skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the skip link is off screen"
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Your name")).to_be_focused()
    await page.keyboard.type(hedy.name)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(hedy.email)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(hedy.password)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Create my account")).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(re.compile(r"/email/sent"))
    await page.goto(await mailed_link(page, hedy.email))
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Confirm my email address")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await page.get_by_role("button", name="Skip").click()
    await expect(page).to_have_url(re.compile(r"/me$"))
    assert is_valid(digits(await page.get_by_test_id("my-number").inner_text()))


async def test_the_navigation_keeps_to_one_row_and_to_a_sixth_of_a_phone(
    page: Page, context: BrowserContext, server: LiveServer
) -> None:
    await sign_up(page, new_person("Mary Somerville"))
    header = page.locator("header.site-header")
    places = page.locator("nav.site-nav").locator("ul.places")
    for language in ("en", "it", "fr"):
        await context.add_cookies([{"name": "portal_lang", "value": language, "url": server.url}])
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.goto("/me/contacts")
        box = await header.bounding_box()
        assert box is not None and box["height"] <= 64, f"the header wraps in {language}"
        first, last = (
            await places.locator("a").first.bounding_box(),
            await page.locator("nav.site-nav").locator("summary").bounding_box(),
        )
        assert (
            first is not None and last is not None and first["y"] == pytest.approx(last["y"], abs=8)
        ), f"the places and the account menu are not on one row in {language}"

        await page.set_viewport_size(PHONE)
        await page.goto("/me/contacts")
        await no_sideways_scroll(page)
        top, bar = await header.bounding_box(), await places.bounding_box()
        assert top is not None and bar is not None
        assert bar["y"] + bar["height"] == pytest.approx(PHONE["height"], abs=1), "no bottom bar"
        assert top["height"] + bar["height"] <= PHONE["height"] / 6, (
            f"tall navigation in {language}"
        )
        # The other places are behind "more", a <details> menu.
        await open_account_menu(page)
        await expect(page.locator("details.menu a[href='/me/tokens']")).to_be_visible()
