"""The guided start after signing up: three steps at /me/start, shown once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from portal.domain import guide
from portal.storage.models import User
from tests.fixtures.app import HTML, csrf_from, get_csrf, web_sign_up

PASSWORD = "correct horse battery"

STEPS_EN = ("Link your first accounts", "Choose who sees what", "Share your number")
STEPS_IT = ("Collega i tuoi primi account", "Scegli chi vede cosa", "Condividi il tuo numero")


async def _step(client: httpx.AsyncClient, step: int, **headers: str) -> httpx.Response:
    page = await client.get(f"/me/start?step={step}", headers={**HTML, **headers})
    assert page.status_code == 200, page.text
    return page


async def _sign_in(client: httpx.AsyncClient) -> httpx.Response:
    token = await get_csrf(client, "/signin")
    return await client.post(
        "/signin",
        data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD},
        headers=HTML,
    )


async def _done(client: httpx.AsyncClient, step: int) -> httpx.Response:
    page = await _step(client, step)
    return await client.post(
        "/me/start/done", data={"csrf_token": csrf_from(page.text)}, headers=HTML
    )


async def test_confirming_the_address_lands_on_the_first_step(client):
    confirmed = await web_sign_up(client)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/me/start"
    page = await client.get("/me/start", headers=HTML)
    assert page.status_code == 200
    assert "Step 1 of 3" in page.text
    for name in STEPS_EN:
        assert name in page.text
    assert re.search(r'<li aria-current="step">Link your first accounts</li>', page.text)
    for network in ("whatsapp", "telegram", "instagram", "mastodon", "bluesky", "github"):
        assert f'href="/me/accounts/add?network={network}&amp;next=/me/start"' in page.text
    assert "No account is linked yet." in page.text
    assert 'href="/me/start?step=2"' in page.text  # Next
    assert 'action="/me/start/done"' in page.text and ">Skip<" in page.text


async def test_the_steps_are_translated(client):
    await web_sign_up(client)
    for step in (1, 2, 3):
        page = await _step(client, step, **{"accept-language": "it"})
        assert '<html lang="it">' in page.text
        assert f"Passo {step} di 3" in page.text
        for name in STEPS_IT:
            assert name in page.text
        assert ">Passo successivo<" in page.text if step < 3 else ">Fine<" in page.text
        for english in (*STEPS_EN, ">Next step<", ">Skip<", ">Finish<"):
            assert english not in page.text


async def test_an_account_linked_from_the_first_step_comes_back_to_it(signed_in):
    form = await signed_in.get("/me/accounts/add?network=github&next=/me/start", headers=HTML)
    assert 'name="next" value="/me/start"' in form.text
    added = await signed_in.post(
        "/me/accounts",
        data={
            "csrf_token": csrf_from(form.text),
            "network": "github",
            "handle": "ada",
            "next": "/me/start",
        },
        headers=HTML,
    )
    assert added.status_code == 303 and added.headers["location"] == "/me/start"
    page = await _step(signed_in, 1)
    linked = re.search(r'data-testid="guide-linked">(.*?)</ul>', page.text, re.S)
    assert linked and "GitHub" in linked.group(1) and "ada" in linked.group(1)
    # Any other place to come back to is not followed.
    elsewhere = await signed_in.post(
        "/me/accounts",
        data={
            "csrf_token": csrf_from(form.text),
            "network": "github",
            "handle": "ada2",
            "next": "https://elsewhere.example/",
        },
        headers=HTML,
    )
    assert elsewhere.headers["location"] == "/me/accounts"


async def test_privacy_saved_on_the_second_step_goes_on_to_the_third(signed_in, db):
    page = await _step(signed_in, 2)
    assert 'name="next" value="/me/start?step=3"' in page.text
    assert 'id="name_audience"' in page.text and "Step 2 of 3" in page.text
    saved = await signed_in.post(
        "/me/privacy",
        data={
            "csrf_token": csrf_from(page.text),
            "name_audience": "contacts",
            "find_by_number": "on",
            "next": "/me/start?step=3",
        },
        headers=HTML,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me/start?step=3"
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    await db.refresh(user)
    assert user.name_audience == "contacts"
    # Through htmx the browser is sent on the same way.
    again = await signed_in.post(
        "/me/privacy",
        data={
            "csrf_token": csrf_from(page.text),
            "name_audience": "public",
            "find_by_number": "on",
            "next": "/me/start?step=3",
        },
        headers={"hx-request": "true"},
    )
    assert again.status_code == 204 and again.headers["hx-redirect"] == "/me/start?step=3"


async def test_a_wrong_audience_on_the_second_step_stays_there_with_its_message(signed_in):
    page = await _step(signed_in, 2)
    wrong = await signed_in.post(
        "/me/privacy",
        data={
            "csrf_token": csrf_from(page.text),
            "name_audience": "everyone",
            "next": "/me/start?step=3",
        },
        headers=HTML,
    )
    assert wrong.status_code == 422
    assert "Step 2 of 3" in wrong.text
    assert 'name="next" value="/me/start?step=3"' in wrong.text


async def test_privacy_saved_from_my_page_stays_there(signed_in):
    page = await signed_in.get("/me", headers=HTML)
    assert 'name="next" value="/me/start' not in page.text
    saved = await signed_in.post(
        "/me/privacy",
        data={
            "csrf_token": csrf_from(page.text),
            "name_audience": "members",
            "next": "https://elsewhere.example/",
        },
        headers=HTML,
    )
    assert saved.status_code == 200 and "Who sees what is saved." in saved.text


async def test_the_third_step_shows_the_number_its_qr_code_and_the_share_page(signed_in):
    me = await signed_in.get("/me", headers=HTML)
    number = re.search(r'data-testid="my-number">([\d ]+)<', me.text)
    assert number
    page = await _step(signed_in, 3)
    assert "Step 3 of 3" in page.text
    assert f'data-testid="my-number">{number.group(1)}<' in page.text
    assert f'value="{number.group(1)}"' in page.text and 'data-copy="share-number"' in page.text
    assert re.search(r'data-testid="share-qr">\s*<svg', page.text)
    assert 'href="/me/share"' in page.text
    assert ">Finish<" in page.text and ">Next step<" not in page.text
    # A name hidden from anyone leaves the card without one, rather than showing "None".
    await signed_in.post(
        "/me/privacy",
        data={"csrf_token": csrf_from(page.text), "name_audience": "private"},
        headers=HTML,
    )
    hidden = await _step(signed_in, 3)
    assert "Ada Lovelace" not in hidden.text.split('id="guide-number"')[1].split("</section>")[0]
    assert "None" not in hidden.text


async def test_finishing_is_recorded_and_sign_in_then_lands_on_my_page(signed_in, db):
    finished = await _done(signed_in, 3)
    assert finished.status_code == 303 and finished.headers["location"] == "/me"
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    await db.refresh(user)
    assert user.guide_done_at is not None
    signed_out = await signed_in.post(
        "/signout", data={"csrf_token": await get_csrf(signed_in, "/me")}, headers=HTML
    )
    assert signed_out.status_code == 303
    signed_in.cookies.delete("portal_session")
    again = await _sign_in(signed_in)
    assert again.status_code == 303 and again.headers["location"] == "/me"
    # Still there for later, from my page.
    me = await signed_in.get("/me", headers=HTML)
    assert 'href="/me/start"' in me.text and "Guided start" in me.text
    assert (await _step(signed_in, 1)).status_code == 200


async def test_skipping_is_recorded_as_well(signed_in, db):
    skipped = await _done(signed_in, 1)
    assert skipped.status_code == 303 and skipped.headers["location"] == "/me"
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    await db.refresh(user)
    assert user.guide_done_at is not None


async def test_sign_in_lands_on_the_guide_until_it_is_done(signed_in):
    signed_in.cookies.delete("portal_session")
    first = await _sign_in(signed_in)
    assert first.status_code == 303 and first.headers["location"] == "/me/start"
    # A page asked for is where sign-in goes, guide or not.
    signed_in.cookies.delete("portal_session")
    token = await get_csrf(signed_in, "/signin")
    asked = await signed_in.post(
        "/signin",
        data={
            "csrf_token": token,
            "email": "ada@example.org",
            "password": PASSWORD,
            "next": "/me/contacts",
        },
        headers=HTML,
    )
    assert asked.headers["location"] == "/me/contacts"


async def test_finishing_needs_the_csrf_token(signed_in, db):
    refused = await signed_in.post("/me/start/done", data={}, headers=HTML)
    assert refused.status_code == 403
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    await db.refresh(user)
    assert user.guide_done_at is None


async def test_a_step_that_does_not_exist_is_not_found(signed_in):
    for step in ("0", "4", "two", ""):
        page = await signed_in.get(f"/me/start?step={step}", headers=HTML)
        assert page.status_code == 404, step


async def test_someone_not_signed_in_gets_what_my_page_answers(client):
    me = await client.get("/me", headers=HTML, follow_redirects=False)
    for path in ("/me/start", "/me/start?step=3"):
        page = await client.get(path, headers=HTML, follow_redirects=False)
        assert page.status_code == me.status_code
        assert page.headers["location"].startswith("/signin?next=/me/start")
    token = await get_csrf(client, "/signin")
    privacy = await client.post("/me/privacy", data={"csrf_token": token}, headers=HTML)
    done = await client.post("/me/start/done", data={"csrf_token": token}, headers=HTML)
    assert done.status_code == privacy.status_code == 401


async def test_someone_who_has_not_confirmed_is_not_sent_to_the_guide(client, db):
    token = await get_csrf(client, "/signup")
    signed_up = await client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "ada@example.org",
            "password": PASSWORD,
            "display_name": "Ada",
        },
        headers=HTML,
    )
    assert signed_up.status_code == 303
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None and user.email_confirmed_at is None
    signed_in = await _sign_in(client)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/me"


def test_linking_goes_back_to_the_guided_start_until_it_is_done() -> None:
    moment = datetime(2026, 12, 6, tzinfo=UTC)
    on_it = User(email_confirmed_at=moment, guide_done_at=None)
    done = User(email_confirmed_at=moment, guide_done_at=moment)
    unconfirmed = User(email_confirmed_at=None, guide_done_at=None)
    assert guide.after_linking(on_it) == guide.START
    assert guide.after_linking(done) == "/me/accounts?linked=1"
    assert guide.after_linking(unconfirmed) == "/me/accounts?linked=1"
