"""The Follow / Following button on a number's page, with and without htmx."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from portal.storage.models import Follow
from tests.fixtures.app import HTML, csrf_from, my_number


async def test_follow_and_unfollow_without_javascript(signed_in, bob, db):
    ada = await my_number(signed_in)
    page = await bob.get(f"/n/{ada}", headers=HTML)
    assert f'action="/me/follows/{ada}"' in page.text and ">Follow</button>" in page.text

    followed = await bob.post(
        f"/me/follows/{ada}",
        data={"csrf_token": csrf_from(page.text), "next": f"/n/{ada}"},
        headers=HTML,
    )
    assert followed.status_code == 303 and followed.headers["location"] == f"/n/{ada}"
    page = await bob.get(f"/n/{ada}", headers=HTML)
    assert ">Following</button>" in page.text and f'action="/me/follows/{ada}/remove"' in page.text
    assert "You follow this number" in page.text
    assert (await db.scalar(select(Follow.id))) is not None

    dropped = await bob.post(
        f"/me/follows/{ada}/remove",
        data={"csrf_token": csrf_from(page.text), "next": f"/n/{ada}"},
        headers=HTML,
    )
    assert dropped.status_code == 303
    page = await bob.get(f"/n/{ada}", headers=HTML)
    assert ">Follow</button>" in page.text and "You no longer follow this number." in page.text


async def test_htmx_swaps_the_button_in_place(signed_in, bob):
    ada = await my_number(signed_in)
    page = await bob.get(f"/n/{ada}", headers=HTML)
    htmx = {"hx-request": "true", "hx-target": "follow-actions"}
    swapped = await bob.post(
        f"/me/follows/{ada}", data={"csrf_token": csrf_from(page.text)}, headers=htmx
    )
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith('<div class="follow-actions" id="follow-actions"')
    assert ">Following</button>" in swapped.text and 'aria-pressed="true"' in swapped.text
    assert "<html" not in swapped.text


async def test_the_button_needs_its_csrf_token(signed_in, bob, db):
    ada = await my_number(signed_in)
    refused = await bob.post(f"/me/follows/{ada}", data={}, headers=HTML)
    assert refused.status_code == 403
    assert (await db.scalar(select(Follow.id))) is None


async def test_no_button_on_ones_own_page_nor_for_someone_signed_out(signed_in, client, app):
    ada = await my_number(signed_in)
    own = await signed_in.get(f"/n/{ada}", headers=HTML)
    assert "/me/follows/" not in own.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as anyone:
        page = await anyone.get(f"/n/{ada}", headers=HTML)
    assert page.status_code == 200 and "/me/follows/" not in page.text


async def test_the_button_speaks_the_readers_language(signed_in, bob):
    ada = await my_number(signed_in)
    bob.cookies.set("portal_lang", "fr")
    page = await bob.get(f"/n/{ada}", headers=HTML)
    assert ">Suivre</button>" in page.text
    followed = await bob.post(
        f"/me/follows/{ada}", data={"csrf_token": csrf_from(page.text)}, headers=HTML
    )
    page = await bob.get(followed.headers["location"], headers=HTML)
    assert "Abonné·e</button>" in page.text and "Vous suivez ce numéro" in page.text
