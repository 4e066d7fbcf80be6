"""Sign-up, email confirmation, a forgotten password and a new address through the JSON API,
with the emails received by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain import notifications
from portal.storage.models import User
from tests.fixtures.app import api_sign_up, api_token, make_settings

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(smtp_server):
    return make_settings(smtp_url=smtp_server.url, mail_from="Portal <portal@portal.test>")


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


async def _signup(client, email: str, password: str = PASSWORD):
    response = await client.post(
        "/api/v1/signup", json={"email": email, "password": password, "display_name": "Ada"}
    )
    await notifications.sent_mail()
    return response


async def test_sign_up_answers_the_same_for_a_new_and_a_taken_address(client, mailbox):
    await api_sign_up(client, email="ada@example.org")
    mailbox.messages.clear()
    taken = await _signup(client, "ada@example.org", password="another password!")
    fresh = await _signup(client, "bob@example.org", password="another password!")
    assert taken.status_code == fresh.status_code == 202
    assert taken.json() == fresh.json()
    assert "number" not in taken.json()
    subjects = {m["To"]: m["Subject"] for m in mailbox.messages}
    assert subjects == {
        "ada@example.org": "Someone tried to sign up with your address",
        "bob@example.org": "Confirm your email address for Portal",
    }


@pytest.mark.parametrize("written", ["ADA@Example.ORG", "  ada@example.org ", "ａｄａ@example.org"])
async def test_a_taken_address_however_written_creates_nothing(client, db, mailbox, written):
    await api_sign_up(client, email="ada@example.org")
    mailbox.messages.clear()
    answer = await _signup(client, written, password="another password!")
    assert answer.status_code == 202
    count = await db.scalar(select(func.count()).select_from(User))
    assert count == 1
    assert [m["Subject"] for m in mailbox.messages] == [
        "Someone tried to sign up with your address"
    ]


async def test_the_confirmation_link_shows_the_number_once(client, mailbox):
    await _signup(client, "ada@example.org")
    token = _token(mailbox.last_link("ada@example.org"))
    confirmed = await client.post("/api/v1/email/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.json()["email_confirmed"] is True
    assert len(confirmed.json()["number"]) == 8
    again = await client.post("/api/v1/email/confirm", json={"token": token})
    assert again.status_code == 404
    assert again.headers["content-type"] == PROBLEM
    assert "This link is not valid" in again.json()["detail"]


async def test_password_reset_answers_the_same_and_the_link_works_once(client, mailbox):
    await api_sign_up(client, email="ada@example.org")
    token = await api_token(client)
    mailbox.messages.clear()
    known = await client.post("/api/v1/password-reset", json={"email": "ada@example.org"})
    unknown = await client.post("/api/v1/password-reset", json={"email": "eve@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    await notifications.sent_mail()
    assert [m["To"] for m in mailbox.messages] == ["ada@example.org"]

    reset = _token(mailbox.last_link("ada@example.org"))
    confirm = {"token": reset, "new_password": "a brand new password"}
    # A reset link confirms no address, and a wrong password keeps the link.
    assert (await client.post("/api/v1/email/confirm", json={"token": reset})).status_code == 404
    short = await client.post(
        "/api/v1/password-reset/confirm", json={**confirm, "new_password": "short"}
    )
    assert short.status_code == 422
    done = await client.post("/api/v1/password-reset/confirm", json=confirm)
    assert done.status_code == 204
    # API tokens are revoked unless asked otherwise.
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert await api_token(client, password="a brand new password")
    again = await client.post("/api/v1/password-reset/confirm", json=confirm)
    assert again.status_code == 404
    assert again.headers["content-type"] == PROBLEM


async def test_password_reset_can_keep_the_tokens(client, mailbox):
    await api_sign_up(client, email="ada@example.org")
    token = await api_token(client)
    await client.post("/api/v1/password-reset", json={"email": "ada@example.org"})
    await notifications.sent_mail()
    done = await client.post(
        "/api/v1/password-reset/confirm",
        json={
            "token": _token(mailbox.last_link("ada@example.org")),
            "new_password": "a brand new password",
            "revoke_tokens": False,
        },
    )
    assert done.status_code == 204
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_changing_the_email_through_the_api(client, mailbox):
    await api_sign_up(client, email="ada@example.org")
    auth = {"authorization": f"Bearer {await api_token(client)}"}
    wrong = await client.post(
        "/api/v1/me/email",
        json={"new_email": "ada@example.net", "password": "wrong password"},
        headers=auth,
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == "Your password is wrong."
    asked = await client.post(
        "/api/v1/me/email",
        json={"new_email": "ada@example.net", "password": PASSWORD},
        headers=auth,
    )
    assert asked.status_code == 202
    await notifications.sent_mail()
    assert (await client.get("/api/v1/me", headers=auth)).json()["email"] == "ada@example.org"
    token = _token(mailbox.last_link("ada@example.net"))
    confirmed = await client.post("/api/v1/email/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == "ada@example.net"
    assert (await client.get("/api/v1/me", headers=auth)).json()["email"] == "ada@example.net"


async def test_the_recovery_routes_are_documented(client):
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/email/confirm",
        "/api/v1/me/email/confirmation",
        "/api/v1/password-reset",
        "/api/v1/password-reset/confirm",
        "/api/v1/me/email",
    ):
        operation = spec["paths"][path]["post"]
        assert operation["summary"] or operation["description"]
    assert "202" in spec["paths"]["/api/v1/signup"]["post"]["responses"]
