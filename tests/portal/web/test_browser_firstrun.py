"""A new person's first session in Debian's Chromium on ``portal serve``: the guided start
after signing up, and messages that must show, in place, when something goes wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.fixtures.browser import (
    Console,
    confirmed_sign_up,
    digits,
    new_person,
    screenshot,
    scriptless_page,
    sign_in,
)
from tests.fixtures.live import LiveServer, create_user

pytestmark = pytest.mark.browser


async def test_sign_up_goes_through_the_guided_start_and_finishes_on_my_page(
    page: Page, context: BrowserContext, server: LiveServer, shots: Path
) -> None:
    person = new_person("Grace")
    await confirmed_sign_up(page, person)

    # Step 1: link an account by its handle, and come back to the guide.
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 1 of 3")
    await expect(page.locator(".steps [aria-current=step]")).to_have_text(
        "Link your first accounts"
    )
    await expect(page.get_by_text("No account is linked yet.")).to_be_visible()
    await screenshot(page, shots / "guide-1.png")
    await page.get_by_role("link", name="Add your GitHub account").click()
    form = page.get_by_role("region", name="Your handle")
    await form.get_by_label("Username").fill("gracehopper")
    await form.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await expect(page.get_by_test_id("guide-linked")).to_contain_text("GitHub")
    await expect(page.get_by_test_id("guide-linked")).to_contain_text("gracehopper")
    await page.get_by_role("button", name="Next step").click()

    # Step 2: the privacy form; saving it goes on to the third step.
    await expect(page).to_have_url(re.compile(r"/me/start\?step=2$"))
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 2 of 3")
    await page.get_by_label("Who sees: Name").select_option("members")
    await screenshot(page, shots / "guide-2.png")
    await page.get_by_role("button", name="Save").click()

    # Step 3: the number as a card, its QR code, and a button that copies it.
    await expect(page).to_have_url(re.compile(r"/me/start\?step=3$"))
    await expect(page.get_by_test_id("step-of")).to_have_text("Step 3 of 3")
    await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
    number = await page.get_by_test_id("my-number").inner_text()
    assert len(digits(number)) == 8
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    copy = page.get_by_role("region", name="Give it to people instead of your handles")
    await copy.get_by_role("button", name="Copy").first.click()
    assert await page.evaluate("navigator.clipboard.readText()") == number
    await expect(page.get_by_role("link", name="Every way to share your number")).to_have_attribute(
        "href", "/me/share"
    )
    await screenshot(page, shots / "guide-3.png")
    await page.get_by_role("button", name="Finish").click()

    # On my page, with what the guide changed; signing in again does not open it again.
    await expect(page).to_have_url(re.compile(r"/me$"))
    await expect(page.get_by_test_id("my-number")).to_have_text(number)
    await expect(page.get_by_label("Who sees: Name")).to_have_value("members")
    await page.goto("/me/accounts")
    await expect(page.get_by_test_id("linked-account")).to_contain_text("gracehopper")
    await context.clear_cookies()
    await page.goto("/signin")
    await sign_in(page, person)
    await expect(page).to_have_url(re.compile(r"/me$"))
    await expect(page.get_by_role("link", name="Guided start")).to_be_visible()


async def test_the_guided_start_works_without_javascript(
    browser: Browser, server: LiveServer
) -> None:
    async with scriptless_page(browser, server) as page:
        person = new_person("Barbara")
        create_user(server, person.email, person.name, person.password)
        await page.goto("/signin")
        await sign_in(page, person)
        await expect(page).to_have_url(re.compile(r"/me/start$"))
        await page.get_by_role("button", name="Next step").click()
        await page.get_by_label("Who sees: Picture").select_option("contacts")
        await page.get_by_role("button", name="Save").click()
        await expect(page).to_have_url(re.compile(r"/me/start\?step=3$"))
        await expect(page.get_by_test_id("share-qr").locator("svg")).to_be_visible()
        await expect(page.locator("#share-number")).to_have_value(
            re.compile(r"^\d{3} \d{3} \d{2}$")
        )
        await page.get_by_role("button", name="Finish").click()
        await expect(page).to_have_url(re.compile(r"/me$"))
        await expect(page.get_by_label("Who sees: Picture")).to_have_value("contacts")


async def test_verify_by_link_shows_why_the_page_could_not_be_read(
    page: Page, server: LiveServer, console: Console
) -> None:
    person = new_person("Ada")
    create_user(server, person.email, person.name, person.password)
    await page.goto("/signin")
    await sign_in(page, person)
    # An account an operator made is new too: signing in opens the guided start.
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    nobody = "http://nowhere.example.org:9/"  # a name that does not resolve here
    await page.goto("/me/accounts/add?network=website")
    form = page.get_by_role("region", name="Your handle")
    await form.get_by_label("Address").fill(nobody)
    await form.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))

    console.expect_status(502)
    # The button is htmx's once htmx has read the page; a click before that posts the form
    # without JavaScript, and lands on the page for browsers without it.
    await page.wait_for_function("() => window.htmx && document.body.hasAttribute('hx-headers')")
    await page.wait_for_load_state("load")
    await page.get_by_role("button", name="Verify by link").click()
    alert = page.locator("#accounts").get_by_role("alert")
    await expect(alert).to_contain_text("Website did not answer as expected")
    await expect(alert).to_contain_text("could not be reached")
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
