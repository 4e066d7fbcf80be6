"""My notifications on the web: opening them marks them read, in the reader's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from portal import i18n
from tests.fixtures.app import HTML, api_sign_up, api_token, post_form

_ITEM = re.compile(r'<li class="(unread)?"[^>]*>\s*<a href="([^"]+)">([^<]+)</a>')


@pytest.fixture
async def bob(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    """A second person, through the API: the authorization header of their token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
        await api_sign_up(http, email="bob@example.org", display_name="Bob")
        yield {"authorization": f"Bearer {await api_token(http, email='bob@example.org')}"}


async def _ask(client: httpx.AsyncClient, bob: dict[str, str]) -> None:
    """Bob asks the signed-in person to become a contact: one notification for them."""
    number = (await client.get("/api/v1/me")).json()["number"]
    asked = await client.post("/api/v1/contacts", json={"number": number}, headers=bob)
    assert asked.status_code == 201, asked.text


async def _unread(client: httpx.AsyncClient) -> int:
    found: int = (await client.get("/api/v1/notifications")).json()["unread"]
    return found


async def test_opening_the_list_marks_what_it_shows_read(signed_in, bob):
    await _ask(signed_in, bob)
    assert await _unread(signed_in) == 1
    first = await signed_in.get("/me/notifications", headers=HTML)
    [(unread, _, text)] = _ITEM.findall(first.text)
    assert unread == "unread" and text == "Bob asked to become your contact."
    assert await _unread(signed_in) == 0
    again = await signed_in.get("/me/notifications", headers=HTML)
    assert [unread for unread, _, _ in _ITEM.findall(again.text)] == [""]


async def test_opening_one_notification_marks_it_read_and_goes_where_it_points(signed_in, bob):
    await _ask(signed_in, bob)
    [item] = (await signed_in.get("/api/v1/notifications?unread=true")).json()["items"]
    opened = await signed_in.get(f"/me/notifications/{item['id']}", headers=HTML)
    assert opened.status_code == 303 and opened.headers["location"] == item["link"]
    assert await _unread(signed_in) == 0
    missing = await signed_in.get("/me/notifications/999999", headers=HTML)
    assert missing.status_code == 404


async def test_mark_all_read_without_opening_the_list(signed_in, bob):
    await _ask(signed_in, bob)
    done = await post_form(signed_in, "/me/notifications/read", page="/me/contacts")
    assert done.status_code == 303
    assert await _unread(signed_in) == 0


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "Bob ha chiesto di diventare tuo contatto."),
        ("fr", "Bob demande à devenir votre contact."),
    ],
)
async def test_notifications_speak_the_reader_language(signed_in, bob, language, expected):
    await _ask(signed_in, bob)
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    page = await signed_in.get("/me/notifications", headers=HTML)
    assert [text for _, _, text in _ITEM.findall(page.text)] == [expected]


async def test_a_notification_id_out_of_any_range_is_simply_not_found(signed_in):
    for path in ("/me/notifications/99999999999999999999999", "/me/notifications/2147483648"):
        opened = await signed_in.get(path, headers=HTML)
        assert opened.status_code == 404, opened.text
    marked = await post_form(
        signed_in, "/me/notifications/99999999999999999999999/read", page="/me/notifications"
    )
    assert marked.status_code == 404


async def test_the_unread_list_leaves_them_unread_while_it_is_paged_through(signed_in, bob):
    await _ask(signed_in, bob)
    shown = await signed_in.get("/me/notifications?unread=true", headers=HTML)
    assert [unread for unread, _, _ in _ITEM.findall(shown.text)] == ["unread"]
    assert "Mark read" in shown.text
    assert await _unread(signed_in) == 1
