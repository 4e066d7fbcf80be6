"""The language a signed-in person chose: on their pages, in their emails, through the API."""

from __future__ import annotations

import httpx
import pytest

from portal import i18n, mail
from tests.fixtures.app import HTML, get_csrf, post_form


async def _stored(client: httpx.AsyncClient) -> str | None:
    me = await client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    language: str | None = me.json()["language"]
    return language


async def test_a_new_account_follows_its_browser(signed_in):
    assert await _stored(signed_in) is None
    page = await signed_in.get("/me", headers={**HTML, "accept-language": "fr"})
    assert '<html lang="fr">' in page.text


async def test_the_chosen_language_is_saved_and_wins_over_the_browser(signed_in):
    saved = await post_form(signed_in, "/me/language", language="it")
    assert saved.status_code == 303 and saved.headers["location"] == "/me?language=saved"
    assert await _stored(signed_in) == "it"
    page = await signed_in.get("/me?language=saved", headers={**HTML, "accept-language": "fr"})
    assert '<html lang="it">' in page.text and "Salvato." in page.text
    assert '<option value="it" lang="it" selected>' in page.text
    # Another browser of the same person, whose switcher cookie says French: theirs wins.
    signed_in.cookies.set(i18n.LANG_COOKIE, "fr")
    page = await signed_in.get("/me/contacts", headers={**HTML, "accept-language": "fr"})
    assert '<html lang="it">' in page.text


async def test_following_the_browser_again(signed_in):
    await post_form(signed_in, "/me/language", language="fr")
    saved = await post_form(signed_in, "/me/language", language="")
    assert saved.status_code == 303
    assert i18n.LANG_COOKIE not in signed_in.cookies
    assert await _stored(signed_in) is None
    page = await signed_in.get("/me", headers={**HTML, "accept-language": "it"})
    assert '<html lang="it">' in page.text
    assert '<option value="" selected>' in page.text


async def test_the_switcher_saves_the_choice_of_who_is_signed_in(signed_in):
    token = await get_csrf(signed_in, "/me")
    switched = await signed_in.post(
        "/language", data={"csrf_token": token, "language": "fr", "next": "/me"}
    )
    assert switched.status_code == 303
    assert await _stored(signed_in) == "fr"


@pytest.mark.parametrize("language", ["de", "english", "it-IT"])
async def test_a_language_we_do_not_speak_is_refused(signed_in, language):
    refused = await post_form(signed_in, "/me/language", language=language)
    assert refused.status_code == 422
    assert "This language is not available." in refused.text
    assert 'id="language-error"' in refused.text
    assert await _stored(signed_in) is None


async def test_the_api_reads_and_changes_the_language(signed_in):
    token = await get_csrf(signed_in, "/me")
    headers = {"x-csrf-token": token}
    changed = await signed_in.patch("/api/v1/me", json={"language": "fr"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "fr"
    kept = await signed_in.patch("/api/v1/me", json={"bio": "Hi"}, headers=headers)
    assert kept.json()["language"] == "fr"
    refused = await signed_in.patch("/api/v1/me", json={"language": "de"}, headers=headers)
    assert refused.status_code == 422
    assert await _stored(signed_in) == "fr"
    cleared = await signed_in.patch("/api/v1/me", json={"language": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["language"] is None


async def test_the_api_offers_exactly_our_languages(client):
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    offered = [
        choice["enum"]
        for choice in schema["ProfilePatch"]["properties"]["language"]["anyOf"]
        if "enum" in choice
    ]
    assert offered == [list(i18n.LANGUAGES)]


async def test_emails_are_written_in_the_chosen_language(app, signed_in):
    await post_form(signed_in, "/me/language", language="it")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as other:
        token = await get_csrf(other, "/password/forgot")
        asked = await other.post(
            "/password/forgot",
            data={"csrf_token": token, "email": "ada@example.org"},
            headers={**HTML, "accept-language": "en"},
        )
    assert asked.status_code == 303, asked.text
    from portal.domain import notifications

    await notifications.sent_mail()
    letter = [sent for sent in mail.console_outbox if sent.to == "ada@example.org"][-1]
    assert letter.subject == "Scegli una nuova password per Portal"
    assert "Il link funziona una sola volta, per 30 minuti." in letter.text


async def test_signing_in_brings_the_chosen_language_to_the_browser(signed_in):
    await post_form(signed_in, "/me/language", language="fr")
    assert (await post_form(signed_in, "/signout")).status_code == 303
    signed_in.cookies.clear()
    signed_in_again = await post_form(
        signed_in,
        "/signin",
        page="/signin",
        email="ada@example.org",
        password="correct horse battery",
    )
    assert signed_in_again.status_code == 303, signed_in_again.text
    assert signed_in.cookies.get(i18n.LANG_COOKIE) == "fr"
    # Signed out again, this browser still speaks it.
    assert (await post_form(signed_in, "/signout")).status_code == 303
    page = await signed_in.get("/signin", headers={**HTML, "accept-language": "it"})
    assert '<html lang="fr">' in page.text
