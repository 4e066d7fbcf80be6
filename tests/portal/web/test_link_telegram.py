"""Linking a Telegram account with the Login Widget's signed answer, through the web routes.

The answers are signed here with the recipe Telegram documents
(https://core.telegram.org/widgets/login#checking-authorization), independently of the
connector: HMAC-SHA-256 of the sorted ``key=value`` lines, keyed with SHA-256 of the bot token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import replace
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.storage.models import LinkedAccount
from tests.fixtures.app import HTML, make_settings, post_form, web_sign_up

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT_NAME = "portal_test_bot"
CALLBACK = "/me/accounts/telegram/callback"


@pytest.fixture
def settings() -> Settings:
    return make_settings(telegram_bot_token=BOT_TOKEN, telegram_bot_username=BOT_NAME)


def sign(fields: dict[str, str], token: str = BOT_TOKEN) -> dict[str, str]:
    """``fields`` with the ``hash`` Telegram adds."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hashlib.sha256(token.encode()).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


def answer(*, age: float = 30, **changes: str) -> dict[str, str]:
    """What the widget hands the browser, signed, dated ``age`` seconds ago."""
    fields = {
        "id": "424242424",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "Ada_Lovelace",
        "photo_url": "https://t.me/i/userpic/320/ada_lovelace.jpg",
        "auth_date": str(int(time.time() - age)),
    }
    fields.update(changes)
    return sign({key: value for key, value in fields.items() if value})


async def _callback(client: httpx.AsyncClient, fields: dict[str, str] | str) -> httpx.Response:
    query = fields if isinstance(fields, str) else urlencode(fields)
    return await client.get(f"{CALLBACK}?{query}", headers=HTML)


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def test_a_signed_answer_links_a_verified_account(signed_in, db):
    response = await _callback(signed_in, answer())
    assert response.status_code == 303, response.text
    # Not through the guided start yet: linking goes back to it.
    assert response.headers["location"] == "/me/start"
    (account,) = await _accounts(db)
    assert (account.network, account.handle, account.external_id) == (
        "telegram",
        "ada_lovelace",
        "424242424",
    )
    assert (account.status, account.verified_by) == ("verified", "widget")
    assert account.display_name == "Ada Lovelace"
    page = await signed_in.get("/me/accounts?linked=1", headers=HTML)
    assert 'data-status="verified"' in page.text and "@ada_lovelace" in page.text
    assert "The account is linked and verified." in page.text
    dump = repr((await db.execute(text("SELECT * FROM link_attempts"))).all())
    assert BOT_TOKEN not in dump


def _forged() -> dict[str, str]:
    return {**answer(), "hash": "ab" * 32}


def _changed_after_signing() -> dict[str, str]:
    return {**answer(), "username": "someone_else"}


def _signed_by_another_bot() -> dict[str, str]:
    return sign({k: v for k, v in answer().items() if k != "hash"}, token="42:another-bot")


def _without(name: str) -> dict[str, str]:
    return {key: value for key, value in answer().items() if key != name}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(_forged, "changed or forged", id="forged-hash"),
        pytest.param(_changed_after_signing, "changed or forged", id="field-changed"),
        pytest.param(_signed_by_another_bot, "changed or forged", id="another-bot"),
        pytest.param(lambda: answer(age=16 * 60), "minutes old", id="stale"),
        pytest.param(lambda: answer(age=-10 * 60), "dated in the future", id="future"),
        pytest.param(lambda: _without("hash"), "missing hash", id="no-hash"),
        pytest.param(lambda: _without("auth_date"), "missing auth_date", id="no-date"),
        pytest.param(lambda: _without("id"), "missing id", id="no-id"),
        pytest.param(lambda: {}, "missing id, auth_date, hash", id="nothing"),
        pytest.param(lambda: answer(username=""), "has no username", id="no-username"),
        pytest.param(
            lambda: answer(first_name="A" * 5000), "larger than Telegram ever sends", id="huge"
        ),
        pytest.param(lambda: answer(id="-42"), "no valid date or account number", id="bad-id"),
        pytest.param(lambda: answer(username="4chan_fan"), "cannot use", id="bad-username"),
        pytest.param(
            lambda: {**answer(), "Extra": "1"}, "field Telegram does not send", id="odd-key"
        ),
    ],
)
async def test_a_bad_answer_links_nothing(signed_in, db, fields, message):
    response = await _callback(signed_in, fields())
    assert response.status_code == 422, response.text
    assert message in response.text
    assert await _accounts(db) == []
    # Refused answers are not recorded: a correct one still links afterwards.
    assert (await _callback(signed_in, answer())).status_code == 303


async def test_a_field_given_twice_links_nothing(signed_in, db):
    fields = answer()
    query = urlencode(fields) + "&username=someone_else"
    response = await _callback(signed_in, query)
    assert response.status_code == 422
    assert "twice" in response.text
    assert await _accounts(db) == []


async def test_an_answer_serves_once(signed_in, db):
    fields = answer()
    assert (await _callback(signed_in, fields)).status_code == 303
    again = await _callback(signed_in, fields)
    assert again.status_code == 422
    assert "already used" in again.text
    assert len(await _accounts(db)) == 1


async def test_another_person_cannot_replay_an_answer(client, db):
    """An answer seen in a browser's history or a proxy's log proves nothing for its reader."""
    await web_sign_up(client, email="ada@example.org")
    fields = answer()
    assert (await _callback(client, fields)).status_code == 303
    client.cookies.clear()
    await web_sign_up(client, email="mallory@example.org")
    replay = await _callback(client, fields)
    assert replay.status_code == 422
    assert "already used" in replay.text
    (account,) = await _accounts(db)
    page = await client.get("/me/accounts", headers=HTML)
    assert "ada_lovelace" not in page.text
    assert account.status == "verified"


async def test_a_used_answer_stays_used_after_unlinking(client, db):
    await web_sign_up(client)
    fields = answer()
    assert (await _callback(client, fields)).status_code == 303
    (account,) = await _accounts(db)
    assert (await post_form(client, f"/me/accounts/{account.id}/remove")).status_code == 303
    assert await _accounts(db) == []
    replay = await _callback(client, fields)
    assert replay.status_code == 422 and "already used" in replay.text
    assert await _accounts(db) == []
    fresh = await _callback(client, answer(age=10))
    assert fresh.status_code == 303


async def test_the_add_page_shows_the_widget_and_allows_telegram_there_only(signed_in):
    page = await signed_in.get("/me/accounts/add?network=telegram", headers=HTML)
    assert page.status_code == 200
    assert 'src="https://telegram.org/js/telegram-widget.js' in page.text
    assert f'data-telegram-login="{BOT_NAME}"' in page.text
    assert f'data-auth-url="https://portal.test{CALLBACK}"' in page.text
    # The bot may then write to the account: messages through Portal go that way.
    assert 'data-request-access="write"' in page.text
    policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"].split() == ["'self'", "https://telegram.org"]
    assert directives["frame-src"].split() == ["https://oauth.telegram.org"]
    assert directives["frame-ancestors"] == "'none'"
    for other in ("/me/accounts/add?network=matrix", "/me/accounts", "/me"):
        response = await signed_in.get(other, headers=HTML)
        assert "telegram.org" not in response.headers["content-security-policy"], other


async def test_without_a_bot_the_widget_is_not_offered(client, app):
    app.state.links = replace(app.state.links, telegram_bot_token="", telegram_bot_username="")
    await web_sign_up(client)
    page = await client.get("/me/accounts/add?network=telegram", headers=HTML)
    assert "telegram-widget.js" not in page.text
    assert "telegram.org" not in page.headers["content-security-policy"]
    response = await _callback(client, answer())
    assert response.status_code == 422
    assert "no Telegram bot" in response.text


async def test_the_callback_needs_a_signed_in_person(client, db):
    response = await _callback(client, answer())
    assert response.status_code in (303, 401)
    assert await _accounts(db) == []
