"""The pages of my phone, contact discovery and search."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.sms import ConsoleSender
from portal.storage.models import User
from tests.fixtures.app import HTML, get_csrf, post_form
from tests.portal.domain.people import account, block, person

VCARD = b"""BEGIN:VCARD\r
VERSION:3.0\r
FN:Bob\r
TEL;TYPE=CELL:(201) 555-0123\r
TEL;TYPE=HOME:555-0199\r
END:VCARD\r
"""


async def _me(db) -> User:
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    await db.refresh(user)
    return user


def _text(response) -> str:
    return html.unescape(response.text)


async def test_verify_a_phone_on_its_page(app, signed_in, db):
    page = await signed_in.get("/me/phone", headers=HTML)
    assert page.status_code == 200
    assert "You have no verified number." in page.text
    assert '<option value="IT"' in page.text

    response = await post_form(signed_in, "/me/phone/region", page="/me/phone", region="it")
    assert (response.status_code, response.headers["location"]) == (303, "/me/phone")
    assert (await _me(db)).region == "IT"

    response = await post_form(signed_in, "/me/phone", page="/me/phone", phone="347 123 4567")
    assert response.status_code == 303
    page = await signed_in.get("/me/phone", headers=HTML)
    assert "We sent a six-digit code to +39 347 123 4567" in _text(page)

    response = await post_form(signed_in, "/me/phone/confirm", page="/me/phone", code="000000x")
    assert response.status_code == 422
    assert "4 tries left" in _text(response)

    sender: ConsoleSender = app.state.phones.sender
    code = re.search(r"\d{6}", sender.last_to("+393471234567").text).group(0)
    response = await post_form(signed_in, "/me/phone/confirm", page="/me/phone", code=code)
    assert (response.status_code, response.headers["location"]) == (303, "/me/phone")
    page = await signed_in.get("/me/phone", headers=HTML)
    assert "Your phone number is verified." in page.text
    assert "Your verified number is +39 347 123 4567." in _text(page)

    response = await post_form(signed_in, "/me/phone/remove", page="/me/phone")
    assert response.status_code == 303
    assert (await _me(db)).phone is None


@pytest.mark.parametrize(
    ("path", "data", "words"),
    [
        ("/me/phone", {"phone": "0412 345 678"}, "no country code"),
        ("/me/phone", {"phone": "+1 123 456 7890"}, "not a phone number in use"),
        ("/me/phone/region", {"region": "XX"}, "two-letter code"),
        ("/me/phone/confirm", {"code": "123456"}, "no code waiting"),
    ],
)
async def test_bad_phone_forms_say_why(signed_in, db, path, data, words):
    response = await post_form(signed_in, path, page="/me/phone", **data)
    assert response.status_code == 422
    assert words in _text(response)
    assert (await _me(db)).region == ""


@pytest.mark.parametrize(
    ("language", "not_in_use", "wrong_code", "local"),
    [
        (
            "it",
            "Questo non è un numero di telefono in uso con il prefisso +1.",
            "Questo codice non è giusto. Tentativi rimasti: 4.",
            "Questo è un numero locale: aggiungi il prefisso.",
        ),
        (
            "fr",
            "Ce n'est pas un numéro de téléphone en service avec l'indicatif +1.",
            "Ce code n'est pas le bon. Essais restants : 4.",
            "C'est un numéro local : ajoutez son indicatif régional.",
        ),
    ],
)
async def test_phone_messages_speak_the_reader_language(
    signed_in, language, not_in_use, wrong_code, local
):
    signed_in.cookies.set("portal_lang", language)
    refused = await post_form(signed_in, "/me/phone", page="/me/phone", phone="+1 123 456 7890")
    assert refused.status_code == 422
    assert not_in_use in _text(refused)

    sent = await post_form(signed_in, "/me/phone", page="/me/phone", phone="+39 347 123 4567")
    assert sent.status_code == 303
    wrong = await post_form(signed_in, "/me/phone/confirm", page="/me/phone", code="000000x")
    assert wrong.status_code == 422
    assert wrong_code in _text(wrong)
    page = await signed_in.get("/me/phone", headers=HTML)
    assert "+39 347 123 4567" in _text(page)  # the wrong try was kept, not the number undone

    token = await get_csrf(signed_in, "/me/discover")
    found = await signed_in.post(
        "/me/discover",
        data={"csrf_token": token, "numbers": "555-0199", "region": "US"},
        headers=HTML,
    )
    assert found.status_code == 200
    assert f"555-0199</code>: {local}" in _text(found)


async def test_discover_by_pasted_numbers_and_an_address_book(signed_in, db):
    bob = await person(db, "Bob Found", phone="+12015550123", find_by_phone=True)
    await account(db, bob, "github", "bob-gh")
    blocker = await person(db, "Dan Blocker", phone="+12015550124", find_by_phone=True)
    await block(db, blocker, await _me(db))
    await person(db, "Carol Hidden", phone="+12015550125")
    page = await signed_in.get("/me/discover", headers=HTML)
    assert page.status_code == 200
    token = await get_csrf(signed_in, "/me/discover")
    response = await signed_in.post(
        "/me/discover",
        data={"csrf_token": token, "numbers": "201-555-0124\n+1 201 555 0125", "region": "US"},
        files={"file": ("contacts.vcf", VCARD, "text/vcard")},
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    text = _text(response)
    assert "Bob Found" in text and "@bob-gh" in text and f"/n/{bob.number}" in text
    assert "3 numbers checked." in text
    assert "Dan" not in text and "Carol" not in text
    assert "555-0199</code>: This is a local number: add its area code." in text


async def test_discover_refuses_a_file_that_is_not_an_address_book(signed_in, db):
    token = await get_csrf(signed_in, "/me/discover")
    response = await signed_in.post(
        "/me/discover",
        data={"csrf_token": token, "numbers": ""},
        files={"file": ("photo.png", b"\x89PNG\r\n", "image/png")},
        headers=HTML,
    )
    assert response.status_code == 422
    assert "not an address book in vCard format" in _text(response)


async def test_search_page(signed_in, db):
    await person(db, "Zoë Ørsted", find_by_name=True)
    page = await signed_in.get("/search", headers=HTML)
    assert page.status_code == 200
    assert 'href="/search"' in page.text  # in the navigation
    response = await signed_in.get("/search", params={"q": "ZOE ORSTED"}, headers=HTML)
    assert response.status_code == 200
    assert "Zoë Ørsted" in _text(response)
    response = await signed_in.get("/search", params={"q": "nobody here"}, headers=HTML)
    assert "No one found." in _text(response)
    response = await signed_in.get("/search", params={"q": "z"}, headers=HTML)
    assert response.status_code == 422
    assert "Type at least 2 characters" in _text(response)


@pytest.mark.parametrize("path", ["/me/phone", "/me/discover", "/search?q=ada"])
async def test_pages_need_signing_in(client, path):
    response = await client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


async def test_pages_in_italian(signed_in):
    signed_in.cookies.set("portal_lang", "it")
    for path in ("/me/phone", "/me/discover", "/search"):
        response = await signed_in.get(path, headers=HTML)
        assert response.status_code == 200
        assert 'lang="it"' in response.text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"BEGIN:VCARD\r\n" * 50 + b"END:VCARD\r\n" * 50, 422, "cards inside cards"),
        (b"BEGIN:VCARD\r\nno colon here\r\nEND:VCARD\r\n", 422, "not in vCard format"),
        ("BEGIN:VCARD\r\nFN:Adà\r\nEND:VCARD\r\n".encode("latin-1"), 422, "not UTF-8 text"),
        (b"BEGIN:VCARD\r\n" + b"x" * (5 * 1024 * 1024), 413, "too large for an address book"),
    ],
)
async def test_discover_refuses_a_hostile_address_book_with_a_reason(
    signed_in, data, status, message
):
    token = await get_csrf(signed_in, "/me/discover")
    response = await signed_in.post(
        "/me/discover",
        data={"csrf_token": token, "numbers": ""},
        files={"file": ("contacts.vcf", data, "text/vcard")},
        headers=HTML,
    )
    assert response.status_code == status
    assert message in _text(response)
