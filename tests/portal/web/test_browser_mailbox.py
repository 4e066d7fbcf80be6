"""Connecting a mailbox as a person does it: Debian's Chromium on ``portal serve``, an address
verified by its emailed code, then its mailbox on a real Dovecot and an aiosmtpd submission
server, in every language and at a phone's width and a desktop's."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.fixtures.browser import (
    PHONE,
    Console,
    new_person,
    no_sideways_scroll,
    screenshot,
    sign_up,
)
from tests.fixtures.imap import IMAPServer
from tests.fixtures.live import LiveServer
from tests.fixtures.smtp import Mailbox, Submission

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server_env(smtp_server: Mailbox) -> dict[str, str]:
    """The server mails its codes to the test SMTP server and reaches servers on loopback."""
    return {
        "PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true",
        "PORTAL_SMTP_URL": smtp_server.url,
        "PORTAL_MAIL_FROM": "Portal <portal@portal.test>",
    }


@pytest.mark.parametrize("language", ["en", "it", "fr"])
async def test_a_mailbox_is_connected_after_a_refused_password(
    page: Page,
    context: BrowserContext,
    console: Console,
    server: LiveServer,
    shots: Path,
    smtp_server: Mailbox,
    imap_server: IMAPServer,
    submission_server: Submission,
    language: str,
) -> None:
    console.expect_status(422)
    person = new_person("Grace Hopper")
    await sign_up(page, person)
    password = secrets.token_urlsafe(12)
    login = imap_server.add_user(f"browser{secrets.token_hex(4)}", password)
    submission_server.add_user(login, password)

    await page.goto("/me/accounts/add?network=email")
    await page.locator("#code-handle").fill(person.email)
    await page.locator('form[action="/me/accounts/email/code"] button[type=submit]').click()
    await expect(page).to_have_url(re.compile(r"/me/accounts/\d+/code$"))
    await page.locator("#code").fill(smtp_server.last_code(person.email))
    await page.locator('form[action$="/code"] button[type=submit]').first.click()
    await context.add_cookies([{"name": "portal_lang", "value": language, "url": server.url}])
    await page.goto("/me/accounts")
    await page.locator('a[href$="/mailbox"]').click()
    await expect(page).to_have_url(re.compile(r"/me/accounts/\d+/mailbox$"))

    for name, value in (
        ("imap_host", imap_server.host),
        ("imap_port", str(imap_server.port)),
        ("smtp_host", submission_server.host),
        ("smtp_port", str(submission_server.port)),
        ("username", login),
        ("password", "not the password"),
    ):
        await page.locator(f"#{name}").fill(value)
    for name in ("imap_security", "smtp_security"):
        await page.locator(f"#{name}").select_option("none")
    await page.locator("form.mailbox-form button[type=submit]").click()
    await expect(page.locator("#password-error")).to_be_visible()
    await expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    for size in (DESKTOP, PHONE):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        await screenshot(page, shots / f"mailbox-{language}-error-{size['width']}.png")
        await no_sideways_scroll(page)

    await page.locator("#password").fill(password)
    await page.locator("form.mailbox-form button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
    await expect(page.locator('form[action$="/mailbox/disconnect"]')).to_be_visible()
    for size in (DESKTOP, PHONE):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        await screenshot(page, shots / f"mailbox-{language}-connected-{size['width']}.png")
        await no_sideways_scroll(page)
