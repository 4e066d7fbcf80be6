"""Notifications pushed live (server-sent events) by real ``portal serve`` processes, and by
email to who asked for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from email.header import decode_header, make_header

import httpx
import pytest

from portal.domain import notifications
from tests.fixtures.app import HTML, get_csrf, web_sign_up
from tests.fixtures.live import LiveServer, start_server, stop_server


@pytest.fixture(scope="module")
async def two_servers(databases, tmp_path_factory) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two web processes on one database, as in production behind a load balancer."""
    url = await databases.new("stream")
    env = {"PORTAL_COOKIE_SECURE": "false", "PORTAL_RATE_LIMITS_ENABLED": "false"}
    first = start_server(url, tmp_path_factory.mktemp("stream-a"), **env)
    try:
        second = start_server(url, tmp_path_factory.mktemp("stream-b"), **env)
    except Exception:
        stop_server(first)
        raise
    yield first, second
    stop_server(second)
    stop_server(first)


async def _signed_up(server: LiveServer, email: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.url, timeout=10)
    response = await web_sign_up(client, email=email, display_name=name)
    assert response.status_code == 303, response.text
    return client


async def _number(client: httpx.AsyncClient) -> str:
    number: str = (await client.get("/api/v1/me")).json()["number"]
    return number


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


async def _ask(client: httpx.AsyncClient, number: str) -> None:
    token = await get_csrf(client, "/me/contacts")
    response = await client.post(
        "/me/contacts", data={"csrf_token": token, "number": number}, headers=HTML
    )
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("via", ["same process", "other process"])
async def test_a_request_appears_on_the_open_stream(two_servers, via):
    first, second = two_servers
    tag = via.replace(" ", "-")
    ada = await _signed_up(first, f"ada-{tag}@example.org", "Ada")
    bob = await _signed_up(
        second if via == "other process" else first, f"bob-{tag}@example.org", "Bob"
    )
    try:
        ada_number = await _number(ada)
        async with ada.stream("GET", "/me/notifications/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream)
            name, data = await asyncio.wait_for(anext(events), 10)
            assert (name, data) == ("unread", {"unread": 0})
            await _ask(bob, ada_number)
            name, data = await asyncio.wait_for(anext(events), 10)
        assert name == "notification"
        assert data["kind"] == notifications.CONTACT_REQUEST
        assert data["text"] == "Bob asked to become your contact." and data["unread"] == 1
        assert data["when"] == "just now" and str(data["created_at"]).endswith("+00:00")
        assert str(data["date"]).endswith(" UTC")
    finally:
        await ada.aclose()
        await bob.aclose()


async def test_the_stream_needs_a_signed_in_person(two_servers):
    async with httpx.AsyncClient(base_url=two_servers[0].url) as anonymous:
        response = await anonymous.get("/me/notifications/stream", headers=HTML)
    assert response.status_code == 303 and "/signin" in response.headers["location"]


@pytest.fixture
def notify_settings(mailbox) -> notifications.Mailer:
    return notifications.Mailer(mailbox.url, "Portal <portal@example.org>", "https://portal.test")


async def test_email_goes_out_after_the_commit_and_only_when_asked(db, mailbox, notify_settings):
    from portal.domain import contacts
    from tests.portal.domain.people import person

    ada = await person(db, "Ada", notify_by_email=True)
    quiet = await person(db, "Quiet")
    bob = await person(db, "Bob")
    await contacts.request(db, bob, ada, mailer=notify_settings)
    await contacts.request(db, bob, quiet, mailer=notify_settings)
    await notifications.sent_mail()
    assert mailbox.messages == []  # nothing before the commit
    await db.commit()
    await notifications.sent_mail()
    [message] = mailbox.messages
    assert message["To"] == ada.email
    assert message["Subject"] == "Portal: Bob asked to become your contact."


async def test_a_mail_server_that_is_down_does_not_fail_the_request(db, notify_settings):
    from portal.domain import contacts
    from tests.portal.domain.people import person

    down = notifications.Mailer("smtp+plain://127.0.0.1:9", "portal@example.org", "https://x")
    ada = await person(db, "Ada", notify_by_email=True)
    sent = await contacts.request(db, await person(db, "Bob"), ada, mailer=down)
    await db.commit()
    await notifications.sent_mail()
    assert sent.status == "pending"


async def test_an_email_notification_speaks_its_reader_language(db, mailbox, notify_settings):
    from portal.domain import contacts
    from tests.portal.domain.people import person

    ada = await person(db, "Ada", notify_by_email=True, language="fr")
    await contacts.request(db, await person(db, "Bob"), ada, mailer=notify_settings)
    await db.commit()
    await notifications.sent_mail()
    [message] = mailbox.messages
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "Portal: Bob demande à devenir votre contact."
    body = mailbox.text(message)
    assert "Vous recevez cet e-mail" in body and "https://portal.test/me" in body
    assert "You receive" not in body
