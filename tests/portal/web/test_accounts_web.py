"""The account pages as a browser uses them: forms, cookies, CSRF, htmx fragments."""

from __future__ import annotations

import io
import json
import re

from PIL import Image

from portal.domain import number as numbers
from tests.fixtures.app import csrf_from, get_csrf, web_sign_up

HTML = {"accept": "text/html"}


def _number_on(html: str) -> str:
    match = re.search(r'data-testid="my-number">([\d ]+)<', html)
    assert match, "no number on the page"
    return match.group(1).replace(" ", "")


async def test_sign_up_shows_the_new_number(client):
    response = await web_sign_up(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/me/start"
    cookie = response.headers["set-cookie"]
    assert "portal_session=" in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=lax"):
        assert flag.lower() in cookie.lower()
    page = await client.get("/me", headers=HTML)
    assert page.status_code == 200
    number = _number_on(page.text)
    assert numbers.is_valid(number)


async def test_sign_in_and_out(client):
    await web_sign_up(client)
    token = csrf_from((await client.get("/me", headers=HTML)).text)
    out = await client.post("/signout", data={"csrf_token": token}, headers=HTML)
    assert out.status_code == 303
    assert (await client.get("/me", headers=HTML)).headers["location"] == "/signin?next=/me"

    token = await get_csrf(client)
    wrong = await client.post(
        "/signin",
        data={"csrf_token": token, "email": "ada@example.org", "password": "nope nope nope"},
        headers=HTML,
    )
    assert wrong.status_code == 401
    assert "The email address or the password is wrong." in wrong.text
    right = await client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(wrong.text),
            "email": "ada@example.org",
            "password": "correct horse battery",
            "next": "/me/tokens",
        },
        headers=HTML,
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/me/tokens"


async def test_sign_in_never_redirects_off_site(client):
    await web_sign_up(client)
    await client.post("/signout", data={"csrf_token": await get_csrf(client, "/me")})
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = await get_csrf(client)
        response = await client.post(
            "/signin",
            data={
                "csrf_token": token,
                "email": "ada@example.org",
                "password": "correct horse battery",
                "next": target,
            },
        )
        # Where sign-in goes without a page asked for: the guided start, not done yet.
        assert response.headers["location"] == "/me/start"
        await client.post("/signout", data={"csrf_token": await get_csrf(client, "/me")})


async def test_csrf_token_changes_at_sign_in(client):
    before = await get_csrf(client, "/signup")
    await web_sign_up(client)
    after = await get_csrf(client, "/me")
    assert before != after
    # The old token no longer works.
    response = await client.post(
        "/me/profile", data={"csrf_token": before, "display_name": "X"}, headers=HTML
    )
    assert response.status_code == 403


async def test_profile_update_through_htmx_returns_the_fragment(client):
    await web_sign_up(client)
    token = await get_csrf(client, "/me")
    response = await client.post(
        "/me/profile",
        data={"display_name": "Ada King", "bio": "Analyst.\nPoet of science."},
        headers={"hx-request": "true", "x-csrf-token": token, **HTML},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<form id="profile-form"')
    assert json.loads(response.headers["hx-trigger"]) == {
        "toast": {"message": "Your profile is saved.", "kind": "ok"}
    }
    page = await client.get("/me", headers=HTML)
    assert 'value="Ada King"' in page.text


async def test_avatar_upload_is_reencoded_and_served(client):
    await web_sign_up(client)
    token = await get_csrf(client, "/me")
    picture = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(picture, format="JPEG")
    response = await client.post(
        "/me/avatar",
        data={"csrf_token": token},
        files={"avatar": ("me.jpg", picture.getvalue(), "image/jpeg")},
        headers=HTML,
    )
    assert response.status_code == 303, response.text
    me = (await client.get("/me", headers=HTML)).text
    src = re.search(r'src="(/n/\d+/avatar\?v=\w+)"', me)
    assert src
    served = await client.get(src.group(1))
    assert served.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "WEBP" and image.size == (512, 512)
    again = await client.get(src.group(1), headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304


async def test_tokens_page_shows_a_new_token_once(client):
    await web_sign_up(client)
    token = await get_csrf(client, "/me/tokens")
    created = await client.post(
        "/me/tokens",
        data={"name": "phone app"},
        headers={"hx-request": "true", "x-csrf-token": token, **HTML},
    )
    secret = re.search(r'data-testid="new-token">([^<]+)<', created.text).group(1)
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    listing = (await client.get("/me/tokens", headers=HTML)).text
    assert "phone app" in listing and secret not in listing
    token_id = re.search(r"/me/tokens/(\d+)/revoke", listing).group(1)
    await client.post(f"/me/tokens/{token_id}/revoke", headers={"x-csrf-token": token})
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 401


async def test_deleting_the_account_signs_out_and_hides_the_number(client):
    await web_sign_up(client)
    number = _number_on((await client.get("/me", headers=HTML)).text)
    token = await get_csrf(client, "/me/delete")
    response = await client.post(
        "/me/delete", data={"csrf_token": token, "password": "correct horse battery"}
    )
    assert response.headers["location"] == "/?deleted=1"
    assert (await client.get("/me", headers=HTML)).status_code == 303
    gone = await client.get(f"/n/{number}", headers=HTML)
    assert gone.status_code == 404


async def test_pages_send_security_headers(client):
    response = await client.get("/", headers=HTML)
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "DENY"
    csrf_cookie = response.headers["set-cookie"]
    assert "portal_csrf=" in csrf_cookie and "samesite=strict" in csrf_cookie.lower()


async def test_lookup_from_the_number_box(client):
    await web_sign_up(client)
    number = _number_on((await client.get("/me", headers=HTML)).text)
    typed = "#" + numbers.display(number).replace(" ", "-")
    response = await client.get("/lookup", params={"number": typed}, headers=HTML)
    assert response.headers["location"] == f"/n/{number}"
    card = await client.get(f"/n/{number}", headers=HTML)
    assert "Ada Lovelace" in card.text and numbers.display(number) in card.text
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    response = await client.get("/lookup", params={"number": typo}, headers=HTML)
    assert response.status_code == 422
    assert "typo" in response.text
    assert "Ada Lovelace" not in response.text
