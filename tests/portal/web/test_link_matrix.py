"""Linking a Matrix account by signing in to a real homeserver (Synapse), through the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.storage.models import LinkedAccount
from tests.fixtures.app import (
    HTML,
    api_sign_up,
    api_token,
    get_csrf,
    make_settings,
    post_form,
)
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser


@pytest.fixture
def settings() -> Settings:
    return make_settings(connectors_allow_loopback=True)


@pytest.fixture
async def homeserver_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as http:
        yield http


@pytest.fixture
async def ada(
    matrix_homeserver: MatrixHomeserver, homeserver_http: httpx.AsyncClient
) -> MatrixUser:
    return await matrix_homeserver.register(homeserver_http, displayname="Ada Lovelace")


async def _sign_in(
    client: httpx.AsyncClient, handle: str, password: str, reconnect: str = ""
) -> httpx.Response:
    token = await get_csrf(client, "/me/accounts/add?network=matrix")
    data = {"csrf_token": token, "handle": handle, "password": password}
    if reconnect:
        data["reconnect"] = reconnect
    return await client.post("/me/accounts/matrix/sign-in", data=data, headers=HTML)


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    db.expire_all()
    return list((await db.scalars(select(LinkedAccount))).all())


async def _whoami(http: httpx.AsyncClient, server: MatrixHomeserver, token: str) -> httpx.Response:
    return await http.get(
        f"{server.base_url}/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_the_add_page_offers_signing_in(signed_in):
    page = await signed_in.get("/me/accounts/add?network=matrix", headers=HTML)
    assert page.status_code == 200
    assert 'action="/me/accounts/matrix/sign-in"' in page.text
    assert 'name="password" type="password"' in page.text


async def test_link_check_sign_out_reconnect_and_unlink(
    signed_in, db, app, ada, matrix_homeserver, homeserver_http
):
    response = await _sign_in(signed_in, ada.user_id.upper(), ada.password)
    assert response.status_code == 303, response.text
    # Not through the guided start yet: linking goes back to it.
    assert response.headers["location"] == "/me/start"
    (account,) = await _accounts(db)
    assert (account.network, account.handle, account.external_id) == (
        "matrix",
        ada.user_id,
        ada.user_id,
    )
    assert (account.status, account.verified_by) == ("verified", "password")
    assert account.display_name == "Ada Lovelace"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in page.text
    assert f'action="/me/accounts/{account.id}/check"' in page.text

    # The session the portal opened is a real one, named in the person's device list.
    kept = app.state.links.vault.decrypt_json(account.secrets)
    token = kept["access_token"]
    whoami = await _whoami(homeserver_http, matrix_homeserver, token)
    assert whoami.json()["user_id"] == ada.user_id
    devices = await homeserver_http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/devices", headers=ada.headers
    )
    names = {d["device_id"]: d.get("display_name") for d in devices.json()["devices"]}
    assert names[kept["extra"]["device_id"]] == "Portal"

    # A check that the session still works keeps the account verified.
    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    (account,) = await _accounts(db)
    assert account.status == "verified" and account.problem == ""

    # The person signs the portal's session out (from another client): the check notices.
    logout = await homeserver_http.post(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/logout",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert logout.status_code == 200
    checked = await post_form(signed_in, f"/me/accounts/{account.id}/check")
    assert checked.status_code == 303
    (account,) = await _accounts(db)
    assert account.status == "needs_reconnect"
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert "needs reconnect" in page.text
    assert f'action="/me/accounts/{account.id}/reconnect"' in page.text

    # Reconnecting leads to the sign-in form for the same account, then verifies it again.
    reconnect = await post_form(signed_in, f"/me/accounts/{account.id}/reconnect")
    assert reconnect.status_code == 303
    form = await signed_in.get(reconnect.headers["location"], headers=HTML)
    assert f'name="reconnect" value="{account.id}"' in form.text
    assert ada.user_id in form.text
    again = await _sign_in(signed_in, ada.user_id, ada.password, reconnect=str(account.id))
    assert again.status_code == 303, again.text
    (account,) = await _accounts(db)
    assert account.status == "verified" and account.problem == ""
    token = app.state.links.vault.decrypt_json(account.secrets)["access_token"]
    assert (await _whoami(homeserver_http, matrix_homeserver, token)).status_code == 200

    # Unlinking signs the portal's session out on the homeserver.
    removed = await post_form(signed_in, f"/me/accounts/{account.id}/remove")
    assert removed.status_code == 303
    assert await _accounts(db) == []
    gone = await _whoami(homeserver_http, matrix_homeserver, token)
    assert gone.status_code == 401 and gone.json()["errcode"] == "M_UNKNOWN_TOKEN"
    # The person's own session is untouched.
    assert (await _whoami(homeserver_http, matrix_homeserver, ada.access_token)).status_code == 200


async def test_reconnecting_as_another_account_is_refused(
    signed_in, db, ada, matrix_homeserver, homeserver_http
):
    assert (await _sign_in(signed_in, ada.user_id, ada.password)).status_code == 303
    (account,) = await _accounts(db)
    bob = await matrix_homeserver.register(homeserver_http)
    response = await _sign_in(signed_in, bob.user_id, bob.password, reconnect=str(account.id))
    assert response.status_code in (409, 422), response.text
    (account,) = await _accounts(db)
    assert account.handle == ada.user_id


async def test_a_wrong_password_links_nothing(signed_in, db, ada):
    response = await _sign_in(signed_in, ada.user_id, "not the password")
    assert response.status_code == 422
    assert "refused this user name or password" in response.text
    assert ada.user_id in response.text  # the form keeps what was typed, but not the password
    assert "not the password" not in response.text
    assert await _accounts(db) == []


async def test_an_unknown_user_links_nothing(signed_in, db, matrix_homeserver):
    response = await _sign_in(signed_in, matrix_homeserver.user_id("nobody-here"), "whatever")
    assert response.status_code == 422
    assert "refused this user name or password" in response.text
    assert await _accounts(db) == []


@pytest.mark.parametrize(
    ("handle", "password", "message"),
    [
        ("", "secret", "Enter"),
        ("#room:example.org", "secret", "Matrix room, not a person"),
        ("@ada:example.org", "", "Enter the password."),
        ("@ada:example.org", "x" * 2000, "This password cannot be right."),
    ],
)
async def test_bad_input_is_refused_before_any_request(signed_in, db, handle, password, message):
    response = await _sign_in(signed_in, handle, password)
    assert response.status_code == 422
    assert message in response.text
    assert await _accounts(db) == []


async def test_a_server_that_cannot_be_reached_links_nothing(signed_in, db):
    response = await _sign_in(signed_in, "@ada:127.0.0.1:9", "secret")
    assert response.status_code == 502
    assert "Try again in a moment" in response.text
    assert await _accounts(db) == []


async def test_neither_password_nor_token_is_stored_in_clear(signed_in, db, app, ada):
    assert (await _sign_in(signed_in, ada.user_id, ada.password)).status_code == 303
    (account,) = await _accounts(db)
    token = app.state.links.vault.decrypt_json(account.secrets)["access_token"]
    dump = ""
    for table in ("linked_accounts", "link_attempts", "users", "api_tokens"):
        dump += repr((await db.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
    assert ada.user_id in dump
    assert token and token not in dump
    assert ada.password not in dump


async def test_the_api_links_by_signing_in(client, db, ada):
    await api_sign_up(client)
    auth = {"authorization": f"Bearer {await api_token(client)}"}
    wrong = await client.post(
        "/api/v1/me/accounts",
        json={"network": "matrix", "handle": ada.user_id, "password": "nope"},
        headers=auth,
    )
    assert wrong.status_code == 422
    assert "refused this user name or password" in wrong.json()["detail"]
    assert await _accounts(db) == []
    linked = await client.post(
        "/api/v1/me/accounts",
        json={"network": "matrix", "handle": ada.user_id, "password": ada.password},
        headers=auth,
    )
    assert linked.status_code == 201, linked.text
    body = linked.json()
    assert body["status"] == "verified" and body["handle"] == ada.user_id
    assert "password" not in linked.text.lower() or ada.password not in linked.text
    checked = await client.post(f"/api/v1/me/accounts/{body['id']}/check", headers=auth)
    assert checked.status_code == 200 and checked.json()["status"] == "verified"
    deleted = await client.delete(f"/api/v1/me/accounts/{body['id']}", headers=auth)
    assert deleted.status_code == 204
    assert await _accounts(db) == []


@pytest.mark.parametrize("where", ["discovery", "login"])
async def test_a_server_redirecting_to_a_non_web_address_links_nothing(signed_in, db, where):
    """A hostile server is faked here: Synapse never answers like this."""
    well_known = "https://evil.example.org/.well-known/matrix/client"
    with respx.mock:
        if where == "discovery":
            respx.get(well_known).respond(302, headers={"location": "javascript:alert(1)"})
        else:
            respx.get(well_known).respond(
                200, json={"m.homeserver": {"base_url": "https://matrix.evil.example.org"}}
            )
            respx.get("https://matrix.evil.example.org/_matrix/client/versions").respond(
                200, json={"versions": ["v1.11"]}
            )
            respx.get("https://matrix.evil.example.org/_matrix/client/v3/login").respond(
                302, headers={"location": "mailto:ada@example.org"}
            )
        response = await _sign_in(signed_in, "@ada:evil.example.org", "secret")
    assert response.status_code == 422, response.text
    assert "redirect" in response.text or "another site" in response.text
    assert await _accounts(db) == []
