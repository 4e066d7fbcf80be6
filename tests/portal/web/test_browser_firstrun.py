"""A new person's first session in Debian's Chromium on ``portal serve``: messages that must
show, in place, when something goes wrong."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.browser import Console, new_person, sign_in
from tests.fixtures.live import LiveServer, create_user

pytestmark = pytest.mark.browser


async def test_verify_by_link_shows_why_the_page_could_not_be_read(
    page: Page, server: LiveServer, console: Console
) -> None:
    person = new_person("Ada")
    create_user(server, person.email, person.name, person.password)
    await page.goto("/signin")
    await sign_in(page, person)
    await expect(page).to_have_url(re.compile(r"/me"))
    nobody = "http://nowhere.example.org:9/"  # a name that does not resolve here
    await page.goto("/me/accounts/add?network=website")
    form = page.get_by_role("region", name="Your handle")
    await form.get_by_label("Address").fill(nobody)
    await form.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))

    console.expect_status(502)
    await page.get_by_role("button", name="Verify by link").click()
    alert = page.locator("#accounts").get_by_role("alert")
    await expect(alert).to_contain_text("Website did not answer as expected")
    await expect(alert).to_contain_text("could not be reached")
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
