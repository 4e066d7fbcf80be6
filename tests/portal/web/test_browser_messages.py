"""Writing to a person in Debian's Chromium on ``portal serve``: Grace offers her Matrix
account to anyone signed in; Ada, with a Matrix account of her own, writes to her from her
page, and the copy turns to "Sent" by itself once the server's worker delivered it to the
local Synapse, where Grace's client finds it. Screenshots at 390 and 1280 px, in English,
Italian and French."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from portal.db import make_engine
from portal.domain.messages import answers
from portal.storage.models import utcnow
from portal.storage.posts import Job
from tests.connectors.test_matrix import Inbox, messages_in
from tests.fixtures.browser import PHONE, new_person, no_sideways_scroll, screenshot, sign_up
from tests.fixtures.live import LiveServer
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    # The server reaches the Synapse on this machine, and runs the jobs itself whatever the
    # database (PostgreSQL's default is separate workers).
    return {"PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true", "PORTAL_JOBS": "inline"}


async def _link_matrix(page: Page, user: MatrixUser) -> None:
    await page.goto("/me/accounts/add?network=matrix")
    await page.locator("#signin-handle").fill(user.user_id)
    await page.locator("#password").fill(user.password)
    await page.get_by_role("button", name="Sign in and link").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts"))


async def test_a_message_is_written_from_a_persons_page_and_arrives(
    browser: Browser,
    server: LiveServer,
    matrix_homeserver: MatrixHomeserver,
    homeserver_http: httpx.AsyncClient,
    shots: Path,
) -> None:
    grace_matrix = await matrix_homeserver.register(homeserver_http, displayname="Grace")
    ada_matrix = await matrix_homeserver.register(homeserver_http, displayname="Ada")
    contexts = [
        await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
        for _ in range(2)
    ]
    grace, ada = [await context.new_page() for context in contexts]
    try:
        grace_number = await sign_up(grace, new_person("Grace Hopper"))
        await _link_matrix(grace, grace_matrix)
        await grace.goto("/me/accounts/add?network=whatsapp")
        form = grace.get_by_role("region", name="Your handle")
        await form.get_by_label("Phone number").fill("+39 06 6982 0000")
        await form.get_by_role("button", name="Add").click()
        await expect(grace).to_have_url(re.compile(r"/me/accounts$"))
        await grace.goto("/me/reach")
        await grace.get_by_label("Anyone signed in here", exact=False).check()
        await grace.get_by_role("button", name="Save").click()
        await expect(grace.get_by_text("How people reach you is saved.")).to_be_visible()

        await sign_up(ada, new_person("Ada Lovelace"))
        await _link_matrix(ada, ada_matrix)
        await ada.goto(f"/n/{grace_number}")
        for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
            await ada.set_viewport_size(size)
            await no_sideways_scroll(ada)
            await screenshot(ada, shots / f"number-write-en-{name}.png")
        await ada.get_by_role("link", name="Write to them").click()
        await expect(ada.get_by_role("heading", level=1)).to_have_text("Write a message")
        await expect(ada.get_by_role("checkbox", name=re.compile("Matrix"))).to_be_checked()
        await ada.get_by_label("Message").fill("Tea at five? The usual place.")
        for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
            await ada.set_viewport_size(size)
            await no_sideways_scroll(ada)
            await screenshot(ada, shots / f"message-new-en-{name}.png")
        await ada.get_by_role("button", name="Send").click()
        await expect(ada).to_have_url(re.compile(r"/messages/[\w-]+$"))
        # Ada is not Grace's contact: her first message is a request, held for Grace's yes.
        await expect(ada.get_by_text("waits for them to accept it")).to_be_visible()
        await grace.goto("/conversations")
        await grace.get_by_role("link", name=re.compile("Ada Lovelace")).click()
        request = grace.get_by_role("region", name="Message request")
        await expect(request).to_be_visible()
        await expect(grace.locator(".said.theirs .said-text")).to_have_text(
            ["Tea at five? The usual place."]
        )
        for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
            await grace.set_viewport_size(size)
            await no_sideways_scroll(grace)
            await screenshot(grace, shots / f"conversation-request-en-{name}.png")
        await request.get_by_role("button", name="Accept").click()
        await expect(grace.locator("#toasts")).to_contain_text("Accepted")
        await expect(grace.get_by_role("region", name="Message request")).to_have_count(0)
        await ada.reload()
        copy = ada.locator("#message-copies .delivery")
        await expect(copy.locator(".badge")).to_have_text("Sent", timeout=30_000)
        # WhatsApp, where Portal cannot write, opens in Ada's app with the text written in.
        whatsapp = ada.get_by_role("link", name="Open WhatsApp")
        await expect(whatsapp).to_have_attribute(
            "href", "https://wa.me/390669820000?text=Tea%20at%20five%3F%20The%20usual%20place."
        )
        message_url = ada.url
        for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
            await ada.set_viewport_size(size)
            await no_sideways_scroll(ada)
            await screenshot(ada, shots / f"message-en-{name}.png")

        [room] = await Inbox(matrix_homeserver, homeserver_http, grace_matrix).accept_invitations()
        assert await messages_in(matrix_homeserver, homeserver_http, grace_matrix, room) == [
            (ada_matrix.user_id, "Tea at five? The usual place.")
        ]

        # Grace answers from her own Matrix client: the answer comes into Ada's conversation
        # while she looks at it (read back by the server's worker, the page told live).
        await ada.goto(f"/conversations/{grace_number}")
        await expect(ada.locator(".said.mine .said-text")).to_have_text(
            ["Tea at five? The usual place."]
        )
        answered = await homeserver_http.put(
            f"{matrix_homeserver.base_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/a1",
            headers=grace_matrix.headers,
            json={"msgtype": "m.text", "body": "Yes! See you there."},
        )
        assert answered.status_code == 200, answered.text
        await _read_answers_now(server)
        await expect(ada.locator(".said.theirs .said-text")).to_have_text(
            ["Yes! See you there."], timeout=20_000
        )
        await expect(ada.locator(".said.theirs .said-network")).to_have_text(["Matrix"])
        for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
            await ada.set_viewport_size(size)
            await no_sideways_scroll(ada)
            await screenshot(ada, shots / f"conversation-en-{name}.png")

        for language in ("it", "fr"):
            await contexts[1].add_cookies(
                [{"name": "portal_lang", "value": language, "url": server.url}]
            )
            for path, kind in (
                (f"/messages/new?to={grace_number}", "new"),
                (message_url, "sent"),
                (f"/conversations/{grace_number}", "conversation"),
                ("/conversations", "conversations"),
            ):
                for size, name in (({"width": 1280, "height": 900}, "1280"), (PHONE, "390")):
                    await ada.set_viewport_size(size)
                    await ada.goto(path)
                    await expect(ada.locator("html")).to_have_attribute("lang", language)
                    await no_sideways_scroll(ada)
                    await screenshot(ada, shots / f"message-{kind}-{language}-{name}.png")
    finally:
        for context in contexts:
            await context.close()


async def _read_answers_now(server: LiveServer) -> None:
    """The server's worker reads the answers at once, not at the time it would next look."""
    engine = make_engine(server.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(Job).where(Job.kind == answers.READ).values(run_at=utcnow()))
    finally:
        await engine.dispose()
