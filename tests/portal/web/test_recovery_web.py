"""Email confirmation, a forgotten password and a new address, on the web pages, with the
emails received by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from portal.domain import notifications
from portal.storage.models import ApiToken, EmailLink, User, WebSession, utcnow
from tests.fixtures.app import (
    HTML,
    api_token,
    csrf_from,
    get_csrf,
    make_settings,
    open_confirmation,
    post_form,
    web_sign_up,
)
from tests.portal.web.test_auth_web import browser_at

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(smtp_server):
    return make_settings(smtp_url=smtp_server.url, mail_from="Portal <portal@portal.test>")


def _path(link: str) -> str:
    assert link.startswith("https://portal.test/"), link
    return link.removeprefix("https://portal.test")


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


async def _sign_up_form(client: httpx.AsyncClient, email: str, password: str = PASSWORD):
    token = await get_csrf(client, "/signup")
    response = await client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "password": password, "display_name": "Ada"},
        headers=HTML,
    )
    await notifications.sent_mail()
    return response


async def _forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await post_form(client, "/password/forgot", page="/password/forgot", email=email)
    await notifications.sent_mail()
    return response


async def _reset(client: httpx.AsyncClient, link: str, password: str, **extra: str):
    page = await client.get(_path(link), headers=HTML)
    assert page.status_code == 200, page.text
    return await client.post(
        "/password/reset",
        data={
            "csrf_token": csrf_from(page.text),
            "token": _token(link),
            "new_password": password,
            **extra,
        },
        headers=HTML,
    )


# --- sign-up and confirmation -------------------------------------------------------------------


async def test_sign_up_mails_a_link_that_confirms_the_address_and_signs_in(client, db, mailbox):
    response = await _sign_up_form(client, "ada@example.org")
    assert response.status_code == 303
    assert response.headers["location"] == "/email/sent?what=signup"
    assert "portal_session" not in response.cookies
    sent = await client.get(response.headers["location"], headers=HTML)
    assert "We sent you a link to confirm your email address" in sent.text

    [message] = mailbox.messages
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Confirm your email address for Portal"
    link = mailbox.last_link("ada@example.org")
    assert link.startswith("https://portal.test/email/confirm?token=")
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None and user.email_confirmed_at is None
    stored = await db.scalar(select(EmailLink.digest).where(EmailLink.user_id == user.id))
    assert stored is not None and _token(link) not in stored  # only the digest is kept

    confirmed = await open_confirmation(client, link)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/me/start"
    me = await client.get("/me", headers=HTML)
    assert me.status_code == 200 and 'data-testid="my-number"' in me.text
    assert "Send the link again" not in me.text
    await db.refresh(user)
    assert user.email_confirmed_at is not None


async def test_sign_up_with_a_taken_address_answers_the_same_and_tells_its_owner(
    client, app, db, mailbox
):
    assert (await web_sign_up(client, email="ada@example.org")).status_code == 303
    mailbox.messages.clear()

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ) as stranger:
        taken = await _sign_up_form(stranger, "ada@example.org", password="another password!")
        fresh = await _sign_up_form(stranger, "new@example.org", password="another password!")
        assert taken.status_code == fresh.status_code == 303
        assert taken.headers["location"] == fresh.headers["location"]
        assert taken.cookies.keys() == fresh.cookies.keys()
        page_taken = await stranger.get(taken.headers["location"], headers=HTML)
        assert "already exists" not in page_taken.text

    by_address = {message["To"]: message for message in mailbox.messages}
    assert set(by_address) == {"ada@example.org", "new@example.org"}
    warning = by_address["ada@example.org"]
    assert warning["Subject"] == "Someone tried to sign up with your address"
    assert "token=" not in mailbox.text(warning)
    assert "https://portal.test/password/forgot" in mailbox.text(warning)
    # The owner's password is untouched, and there is still one account.
    assert await api_token(client, email="ada@example.org", password=PASSWORD)
    count = await db.scalar(select(User.id).where(User.email == "ada@example.org"))
    assert count is not None


async def test_a_confirmation_link_works_once(client, mailbox):
    await _sign_up_form(client, "ada@example.org")
    link = mailbox.last_link("ada@example.org")
    assert (await open_confirmation(client, link)).status_code == 303

    again = await client.get(_path(link), headers=HTML)
    assert again.status_code == 404
    assert "This link is not valid" in again.text
    token = await get_csrf(client, "/")
    reused = await client.post(
        "/email/confirm", data={"csrf_token": token, "token": _token(link)}, headers=HTML
    )
    assert reused.status_code == 404


async def test_an_expired_link_is_refused(client, db, mailbox):
    await _sign_up_form(client, "ada@example.org")
    link = mailbox.last_link("ada@example.org")
    await db.execute(update(EmailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.flush()
    assert (await client.get(_path(link), headers=HTML)).status_code == 404


async def test_a_link_for_another_purpose_is_refused(client, mailbox):
    await _sign_up_form(client, "ada@example.org")
    confirm_link = mailbox.last_link("ada@example.org")
    # A confirmation link does not open the new-password form…
    wrong = await client.get(f"/password/reset?token={_token(confirm_link)}", headers=HTML)
    assert wrong.status_code == 404
    # …and a reset link does not confirm the address.
    await _forgot(client, "ada@example.org")
    reset_link = mailbox.last_link("ada@example.org")
    assert "/password/reset?token=" in reset_link
    token = await get_csrf(client, "/")
    refused = await client.post(
        "/email/confirm", data={"csrf_token": token, "token": _token(reset_link)}, headers=HTML
    )
    assert refused.status_code == 404
    # Both still work for what they were made for.
    assert (await open_confirmation(client, confirm_link)).status_code == 303


async def test_unconfirmed_people_are_not_found_by_number_until_they_confirm(client, app, mailbox):
    await _sign_up_form(client, "ada@example.org")
    signed_in = await client.post(
        "/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD, "name": "t"}
    )
    assert signed_in.status_code == 201  # the account works before confirmation
    me = await client.get(
        "/api/v1/me", headers={"authorization": f"Bearer {signed_in.json()['token']}"}
    )
    number = me.json()["number"]
    assert me.json()["email_confirmed"] is False
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ) as stranger:
        assert (await stranger.get(f"/api/v1/numbers/{number}")).status_code == 404
        await open_confirmation(client, mailbox.last_link("ada@example.org"))
        assert (await stranger.get(f"/api/v1/numbers/{number}")).status_code == 200


async def test_the_confirmation_can_be_sent_again_and_the_old_link_stops(signed_in, db, mailbox):
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    user.email_confirmed_at = None
    await db.flush()
    page = await signed_in.get("/me", headers=HTML)
    assert "Send the link again" in page.text
    for _ in range(2):
        sent = await post_form(signed_in, "/me/email/confirmation")
        assert sent.status_code == 303
        assert sent.headers["location"] == "/email/sent?what=confirm"
    await notifications.sent_mail()
    first = [m for m in mailbox.messages if m["To"] == "ada@example.org"][-2]
    old = mailbox.text(first).split("token=")[1].split()[0]
    assert (await signed_in.get(f"/email/confirm?token={old}", headers=HTML)).status_code == 404
    assert (await open_confirmation(signed_in, mailbox.last_link("ada@example.org"))).status_code
    await db.refresh(user)
    assert user.email_confirmed_at is not None


async def test_sending_the_confirmation_again_is_rate_limited(signed_in, db, mailbox):
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    user.email_confirmed_at = None
    await db.flush()
    statuses = [
        (await post_form(signed_in, "/me/email/confirmation")).status_code for _ in range(3)
    ]
    # Three emails to an address in ten minutes, the one sent at sign-up included.
    assert statuses == [303, 303, 429]


async def test_the_email_is_in_the_readers_language(client, mailbox):
    token = await get_csrf(client, "/signup")
    await client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "ada@example.org",
            "password": PASSWORD,
            "display_name": "Ada",
        },
        headers={**HTML, "accept-language": "it"},
    )
    await notifications.sent_mail()
    [message] = mailbox.messages
    assert message["Subject"] == "Conferma il tuo indirizzo email per Portal"
    assert "Apri questo link" in mailbox.text(message)


# --- forgot password --------------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_any_address(signed_in, mailbox):
    mailbox.messages.clear()
    known = await _forgot(signed_in, "ada@example.org")
    unknown = await _forgot(signed_in, "nobody@example.org")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"] == "/email/sent?what=reset"
    assert [m["To"] for m in mailbox.messages] == ["ada@example.org"]
    assert mailbox.messages[0]["Subject"] == "Choose a new Portal password"


async def test_a_reset_link_sets_a_new_password_and_signs_out_everywhere(
    signed_in, app, db, mailbox
):
    kept = await api_token(signed_in)
    await _forgot(signed_in, "ada@example.org")
    link = mailbox.last_link("ada@example.org")

    short = await _reset(signed_in, link, "short")
    assert short.status_code == 422  # a refused password does not spend the link
    done = await _reset(signed_in, link, "a brand new password")
    assert done.status_code == 200
    assert "every browser was signed out" in done.text
    assert "Your API tokens were revoked." in done.text

    assert (await signed_in.get("/me", headers=HTML)).status_code != 200
    assert await db.scalar(select(WebSession.id_hash)) is None
    assert await db.scalar(select(ApiToken.id)) is None
    old = await signed_in.get("/api/v1/me", headers={"authorization": f"Bearer {kept}"})
    assert old.status_code == 401
    assert await api_token(signed_in, password="a brand new password")
    refused = await signed_in.post(
        "/api/v1/tokens", json={"email": "ada@example.org", "password": PASSWORD, "name": "x"}
    )
    assert refused.status_code == 401
    # Used once, the link is spent.
    assert (await signed_in.get(_path(link), headers=HTML)).status_code == 404


async def test_a_reset_can_keep_the_api_tokens(signed_in, mailbox):
    kept = await api_token(signed_in)
    await _forgot(signed_in, "ada@example.org")
    done = await _reset(
        signed_in, mailbox.last_link("ada@example.org"), "a brand new password", keep_tokens="1"
    )
    assert "Your API tokens still work." in done.text
    me = await signed_in.get("/api/v1/me", headers={"authorization": f"Bearer {kept}"})
    assert me.status_code == 200


async def test_forgot_password_is_rate_limited_per_address(client):
    statuses = [(await _forgot(client, "ada@example.org")).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]


# --- a new email address --------------------------------------------------------------------------


async def test_the_email_changes_once_the_new_address_confirms(signed_in, db, mailbox):
    await _forgot(signed_in, "ada@example.org")
    reset_link = mailbox.last_link("ada@example.org")
    mailbox.messages.clear()
    wrong = await post_form(
        signed_in, "/me/email", page="/me/email", new_email="ada@example.net", password="nope"
    )
    assert wrong.status_code == 422
    asked = await post_form(
        signed_in, "/me/email", page="/me/email", new_email="Ada@Example.net", password=PASSWORD
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == "/email/sent?what=change"
    await notifications.sent_mail()
    by_address = {message["To"]: message for message in mailbox.messages}
    assert set(by_address) == {"ada@example.org", "ada@example.net"}
    notice = mailbox.text(by_address["ada@example.org"])
    assert "ada@example.net" in notice and "token=" not in notice
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None  # the old address stays until the link is opened

    link = mailbox.last_link("ada@example.net")
    page = await signed_in.get(_path(link), headers=HTML)
    assert "Make ada@example.net the email address of your account." in page.text
    done = await open_confirmation(signed_in, link)
    assert done.status_code == 200
    assert "Your email address is now ada@example.net." in done.text
    await db.refresh(user)
    assert user.email == "ada@example.net"
    # The link mailed to the old address no longer resets the password.
    assert (await signed_in.get(_path(reset_link), headers=HTML)).status_code == 404
    assert (await open_confirmation_status(signed_in, link)) == 404


async def open_confirmation_status(client: httpx.AsyncClient, link: str) -> int:
    return (await client.get(_path(link), headers=HTML)).status_code


async def test_changing_to_a_taken_address_answers_the_same_and_tells_its_owner(
    client, app, mailbox
):
    await web_sign_up(client, email="bob@example.org")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ) as ada:
        await web_sign_up(ada, email="ada@example.org")
        mailbox.messages.clear()
        taken = await post_form(
            ada, "/me/email", page="/me/email", new_email="bob@example.org", password=PASSWORD
        )
        free = await post_form(
            ada, "/me/email", page="/me/email", new_email="ada@example.net", password=PASSWORD
        )
    assert taken.status_code == free.status_code == 303
    assert taken.headers["location"] == free.headers["location"]
    await notifications.sent_mail()
    to_bob = [m for m in mailbox.messages if m["To"] == "bob@example.org"]
    assert [m["Subject"] for m in to_bob] == [
        "Someone tried to move a Portal account to your address"
    ]
    assert "token=" not in mailbox.text(to_bob[0])
    # Ada's own old address is told in both cases alike: its mail does not say which is taken.
    to_ada = [m["Subject"] for m in mailbox.messages if m["To"] == "ada@example.org"]
    assert to_ada == ["Your Portal email address is being changed"] * 2


async def test_a_new_password_stops_an_email_change_on_its_way(signed_in, db, mailbox):
    """Whoever knew the password asks to move the account; the owner, told by the notice,
    chooses a new password: the move can no longer complete."""
    asked = await post_form(
        signed_in, "/me/email", page="/me/email", new_email="eve@example.net", password=PASSWORD
    )
    assert asked.status_code == 303
    await notifications.sent_mail()
    move = mailbox.last_link("eve@example.net")
    await _forgot(signed_in, "ada@example.org")
    reset = await _reset(signed_in, mailbox.last_link("ada@example.org"), "a brand new secret")
    assert reset.status_code == 200, reset.text
    assert (await open_confirmation_status(signed_in, move)) == 404
    assert await db.scalar(select(User.id).where(User.email == "ada@example.org")) is not None


async def test_changing_the_password_stops_an_email_change_on_its_way(signed_in, mailbox):
    asked = await post_form(
        signed_in, "/me/email", page="/me/email", new_email="eve@example.net", password=PASSWORD
    )
    assert asked.status_code == 303
    await notifications.sent_mail()
    move = mailbox.last_link("eve@example.net")
    changed = await post_form(
        signed_in,
        "/me/password",
        page="/me/password",
        current_password=PASSWORD,
        new_password="a brand new secret",
    )
    assert changed.status_code in (200, 303), changed.text
    assert (await open_confirmation_status(signed_in, move)) == 404


async def test_a_stranger_cannot_spend_the_owners_reset_links(app, client, mailbox):
    """Links to one address are limited per address they are asked from: someone asking
    again and again from elsewhere does not stop the owner from getting one."""
    await web_sign_up(client, email="ada@example.org")
    async with browser_at(app, "198.51.100.7") as stranger:
        statuses = [(await _forgot(stranger, "ada@example.org")).status_code for _ in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    mailbox.messages.clear()
    async with browser_at(app, "203.0.113.8") as owner:
        assert (await _forgot(owner, "ada@example.org")).status_code == 303
    assert mailbox.last_link("ada@example.org")
