"""Email confirmation, a forgotten password and a new address, as a person goes through them:
Debian's Chromium on ``portal serve``, which mails a real SMTP server (aiosmtpd) whose
messages the test reads, and whose links it opens in the browser."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import Console, mailed_link, new_person, screenshot, sign_in, sign_up
from tests.fixtures.live import LiveServer
from tests.fixtures.smtp import Mailbox

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_env(smtp_server: Mailbox) -> dict[str, str]:
    """The server mails the test SMTP server."""
    return {"PORTAL_SMTP_URL": smtp_server.url, "PORTAL_MAIL_FROM": "Portal <portal@portal.test>"}


def _subjects(mailbox: Mailbox, to: str) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.messages if str(m["To"]) == to]


async def _arrives(mailbox: Mailbox, to: str, subject: str) -> None:
    """Wait a little for an email: they go out after the answer, in no set order."""
    for _ in range(100):
        if subject in _subjects(mailbox, to):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email {subject!r} to {to}; got {_subjects(mailbox, to)}")


async def test_sign_up_is_confirmed_by_the_emailed_link(
    page: Page, smtp_server: Mailbox, console: Console, shots: Path
) -> None:
    console.expect_status(404)
    ada = new_person("Ada Lovelace")
    await page.goto("/signup")
    await page.get_by_label("Your name").fill(ada.name)
    await page.get_by_label("Email").fill(ada.email)
    await page.get_by_label("Password").fill(ada.password)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page).to_have_url(re.compile(r"/email/sent\?what=signup$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await screenshot(page, shots / "email-sent.png")

    link = await mailed_link(page, ada.email)
    assert _subjects(smtp_server, ada.email) == ["Confirm your email address for Portal"]
    await page.goto(link)
    await expect(page.get_by_role("main")).to_contain_text(ada.email)
    await screenshot(page, shots / "email-confirm.png")
    await page.get_by_role("button", name="Confirm my email address").click()
    await expect(page).to_have_url(re.compile(r"/me/start$"))
    await page.get_by_role("button", name="Skip").click()
    await expect(page.get_by_test_id("my-number")).to_be_visible()
    await expect(page.get_by_role("button", name="Send the link again")).to_have_count(0)

    # The link is spent: opening it again says so.
    await page.goto(link)
    await expect(page.get_by_role("main")).to_contain_text("This link is not valid")


async def test_a_forgotten_password_is_replaced_through_the_emailed_link(
    browser: Browser, server: LiveServer, page: Page, console: Console, shots: Path
) -> None:
    console.expect_status(404)
    grace = new_person("Grace Hopper")
    await sign_up(page, grace)

    # Another browser, where Grace forgot her password.
    other = await browser.new_context(base_url=server.url)
    try:
        lost = await other.new_page()
        await lost.goto("/signin")
        confirmation = await mailed_link(lost, grace.email)
        await lost.get_by_role("link", name="Forgot your password?").click()
        await lost.get_by_label("Email").fill(grace.email)
        await lost.get_by_role("button", name="Send me a link").click()
        await expect(lost).to_have_url(re.compile(r"/email/sent\?what=reset$"))

        link = await mailed_link(lost, grace.email, not_before=confirmation)
        assert "/password/reset?token=" in link
        await lost.goto(link)
        await screenshot(lost, shots / "password-reset.png")
        await expect(lost.get_by_label("Keep my API tokens working")).not_to_be_checked()
        await lost.get_by_label("New password").fill("a compiler of her own")
        await lost.get_by_role("button", name="Set my new password").click()
        said = lost.get_by_role("status").filter(has_text="every browser was signed out")
        await expect(said).to_be_visible()

        await lost.get_by_role("link", name="Sign in").last.click()
        await sign_in(lost, grace, "a compiler of her own")
        await expect(lost).to_have_url(re.compile(r"/me$"))
    finally:
        await other.close()

    # The first browser was signed out.
    await page.goto("/me")
    await expect(page).to_have_url(re.compile(r"/signin"))


async def test_the_email_changes_once_the_new_address_confirms(
    page: Page, smtp_server: Mailbox, shots: Path
) -> None:
    alan = new_person("Alan Turing")
    await sign_up(page, alan)
    new_address = new_person("Alan Turing").email

    await page.get_by_role("link", name="Change email address").click()
    await page.get_by_label("New email address").fill(new_address)
    await page.get_by_label("Current password").fill(alan.password)
    await screenshot(page, shots / "email-change.png")
    await page.get_by_role("button", name="Change email address").click()
    await expect(page).to_have_url(re.compile(r"/email/sent\?what=change$"))

    link = await mailed_link(page, new_address)
    await _arrives(smtp_server, alan.email, "Your Portal email address is being changed")
    await page.goto("/me")
    await expect(page.get_by_role("main")).to_contain_text(alan.email)

    await page.goto(link)
    await page.get_by_role("button", name="Confirm my email address").click()
    said = page.get_by_role("status").filter(has_text="Your email address is now")
    await expect(said).to_have_text(f"Your email address is now {new_address}.")
    await page.goto("/me")
    await expect(page.get_by_role("main")).to_contain_text(new_address)
