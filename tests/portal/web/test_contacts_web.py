"""Contacts in the browser: requests, the buttons on a number's page, the list, blocks,
invitations and notifications."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from sqlalchemy import select

from portal.domain import linking
from portal.domain import number as numbers
from portal.storage.models import User
from tests.fixtures.app import HTML, csrf_from, get_csrf, my_number


async def _post(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    token = await get_csrf(client, "/me/contacts")
    return await client.post(path, data={"csrf_token": token, **data}, headers=HTML)


async def test_request_accept_and_the_list(signed_in, bob):
    ada_number, bob_number = await my_number(signed_in), await my_number(bob)
    sent = await _post(signed_in, "/me/contacts", number=bob_number, message="Hello Bob")
    assert sent.status_code == 303 and sent.headers["location"] == "/me/contacts"
    mine = await signed_in.get("/me/contacts", headers=HTML)
    assert "Waiting for an answer" in mine.text and "Hello Bob" not in mine.text
    assert "Your request is sent." in mine.text

    theirs = await bob.get("/me/contacts", headers=HTML)
    assert "Ada Lovelace" in theirs.text and "Hello Bob" in theirs.text
    notes = await bob.get("/me/notifications", headers=HTML)
    assert "Ada Lovelace asked to become your contact." in notes.text

    accepted = await _post(bob, f"/me/contacts/{ada_number}/accept")
    assert accepted.status_code == 303
    listing = await signed_in.get("/me/contacts", headers=HTML)
    assert f'data-number="{bob_number}"' in listing.text and "Bob" in listing.text
    notes = await signed_in.get("/me/notifications", headers=HTML)
    assert "Bob is now your contact." in notes.text


async def test_what_the_list_says_is_in_the_reader_language(signed_in, bob):
    signed_in.cookies.set("portal_lang", "fr")
    sent = await _post(signed_in, "/me/contacts", number=await my_number(bob))
    listing = await signed_in.get(sent.headers["location"], headers=HTML)
    assert '<p class="toast">Votre demande est envoyée.</p>' in listing.text


async def test_bad_numbers_are_shown_next_to_the_field(signed_in, bob):
    for number, status, message in (
        ("", 422, "number"),
        ("12a4", 422, "only digits"),
        (await my_number(signed_in), 422, "your own number"),
    ):
        response = await _post(signed_in, "/me/contacts", number=number)
        assert response.status_code == status, response.text
        assert 'aria-invalid="true"' in response.text
        assert message in response.text


async def test_contact_buttons_follow_the_state(signed_in, bob):
    bob_number = await my_number(bob)
    headers = {**HTML, "hx-request": "true", "hx-target": "contact-actions"}
    token = await get_csrf(signed_in, "/me/contacts")
    actions = await signed_in.get(f"/me/contacts/{bob_number}/actions", headers=headers)
    assert "Add as contact" in actions.text
    sent = await signed_in.post(
        f"/me/contacts/{bob_number}/request", data={"csrf_token": token}, headers=headers
    )
    assert sent.status_code == 200 and "Request sent" in sent.text
    blocked = await signed_in.post(
        f"/me/contacts/{bob_number}/block", data={"csrf_token": token}, headers=headers
    )
    assert "Unblock" in blocked.text and "Request sent" not in blocked.text
    page = await signed_in.get("/me/contacts/blocked", headers=HTML)
    assert "Bob" in page.text


async def test_the_blocked_person_sees_their_request_sent_and_the_blocker_never_sees_it(
    signed_in, bob
):
    ada_number, bob_number = await my_number(signed_in), await my_number(bob)
    assert (await _post(signed_in, f"/me/contacts/{bob_number}/block")).status_code == 303
    sent = await _post(bob, "/me/contacts", number=ada_number)
    assert sent.status_code == 303 and sent.headers["location"] == "/me/contacts"
    theirs = await bob.get("/me/contacts", headers=HTML)
    assert "Your request is sent." in theirs.text
    assert "Waiting for an answer" in theirs.text and f'data-number="{ada_number}"' in theirs.text
    headers = {**HTML, "hx-request": "true", "hx-target": "contact-actions"}
    button = await bob.get(f"/me/contacts/{ada_number}/actions", headers=headers)
    assert "Request sent" in button.text

    mine = await signed_in.get("/me/contacts", headers=HTML)
    assert "Asking to become your contact" not in mine.text
    notes = await signed_in.get("/me/notifications", headers=HTML)
    assert "asked to become your contact" not in notes.text


async def test_tags_on_the_list(signed_in, bob):
    ada_number, bob_number = await my_number(signed_in), await my_number(bob)
    await _post(signed_in, "/me/contacts", number=bob_number)
    await _post(bob, f"/me/contacts/{ada_number}/accept")
    assert (await _post(signed_in, f"/me/contacts/{bob_number}/tags", tag="Climbing")).status_code
    tagged = await signed_in.get("/me/contacts?tag=climbing", headers=HTML)
    assert f'data-number="{bob_number}"' in tagged.text
    fragment = await signed_in.get("/me/contacts?tag=other", headers={**HTML, "hx-request": "true"})
    assert fragment.text.lstrip().startswith('<section id="contact-list"')
    assert f'data-number="{bob_number}"' not in fragment.text
    bad = await _post(signed_in, f"/me/contacts/{bob_number}/tags", tag="x" * 41)
    assert bad.status_code == 422 and "at most 40" in bad.text


async def test_invitation_page_qr_and_single_use(signed_in, bob, app):
    token = await get_csrf(signed_in, "/me/invites")
    made = await signed_in.post("/me/invites", data={"csrf_token": token}, headers=HTML)
    assert made.status_code == 201
    link = re.search(r'data-testid="invite-link">([^<]+)<', made.text)
    assert link and "<svg" in made.text and 'class="segno"' in made.text
    path = httpx.URL(link.group(1)).path

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ) as anonymous:
        shown = await anonymous.get(path, headers=HTML)
        assert shown.status_code == 200 and "Ada Lovelace" in shown.text
        assert f"/signin?next={path}" in shown.text

    own = await signed_in.get(path, headers=HTML)
    assert "your own invitation" in own.text
    page = await bob.get(path, headers=HTML)
    used = await bob.post(path, data={"csrf_token": csrf_from(page.text)}, headers=HTML)
    assert used.status_code == 303
    assert "Ada Lovelace" in (await bob.get("/me/contacts", headers=HTML)).text
    again = await bob.get(path, headers=HTML)
    assert again.status_code == 404 and "does not work any more" in again.text
    unknown = await bob.get("/i/" + "x" * 32, headers=HTML)
    assert unknown.status_code == 404 and "does not work any more" in unknown.text


async def test_notifications_mark_read(signed_in, bob):
    await _post(bob, "/me/contacts", number=await my_number(signed_in))
    page = await signed_in.get("/me/notifications", headers=HTML)
    assert 'class="unread"' in page.text
    assert (await _post(signed_in, "/me/notifications/read")).status_code == 303
    page = await signed_in.get("/me/notifications", headers=HTML)
    assert 'class="unread"' not in page.text and "Mark all read" not in page.text


async def test_header_has_the_badge_and_its_script(signed_in):
    page = await signed_in.get("/me", headers=HTML)
    assert 'id="unread-badge"' in page.text
    assert '<script src="/static/notifications.js' in page.text
    script = await signed_in.get("/static/notifications.js")
    assert script.status_code == 200 and "EventSource" in script.text


async def test_the_network_filter_names_the_networks(signed_in, bob, db):
    ada_number, bob_number = await my_number(signed_in), await my_number(bob)
    await _post(signed_in, "/me/contacts", number=bob_number)
    await _post(bob, f"/me/contacts/{ada_number}/accept")
    bob_user = await db.scalar(select(User).where(User.number == bob_number))
    await linking.add_handle(db, bob_user, "github", "bob-builds")
    await db.commit()
    page = await signed_in.get("/me/contacts", headers=HTML)
    network = re.search(r'<select id="network".*?</select>', page.text, re.S)
    assert network, page.text
    assert '<option value="github" >GitHub</option>' in network.group(0)
    shown = await signed_in.get("/me/contacts?network=github", headers=HTML)
    assert f'data-number="{bob_number}"' in shown.text


async def test_walking_numbers_through_the_buttons_is_refused_in_place(signed_in):
    headers = {**HTML, "hx-request": "true", "hx-target": "contact-actions"}
    token = await get_csrf(signed_in, "/me/contacts")
    for tried in range(1, 100):
        number = str(3000000 + tried)
        number += str(numbers.damm_check_digit(number))
        response = await signed_in.post(
            f"/me/contacts/{number}/block", data={"csrf_token": token}, headers=headers
        )
        if response.status_code == 429:
            break
    else:
        pytest.fail("a hundred numbers went through")
    assert tried <= 16, tried
    assert int(response.headers["retry-after"]) > 0
    assert "Too many attempts" in response.text


async def test_walking_invitation_secrets_is_refused(client):
    answered = 0
    for _ in range(100):
        response = await client.get(f"/i/{secrets.token_urlsafe(24)}", headers=HTML)
        if response.status_code == 429:
            break
        assert response.status_code == 404, response.text
        answered += 1
    else:
        pytest.fail("a hundred secrets went through")
    assert answered <= 10, answered
    assert int(response.headers["retry-after"]) > 0
