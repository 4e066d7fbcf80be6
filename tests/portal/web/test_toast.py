"""What an action did, said once: after a redirect on the next page, to htmx in a header."""

from __future__ import annotations

import base64
import json
import re

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from portal.web.forms import redirect
from portal.web.templating import render
from portal.web.toast import FLASH_COOKIE, toast
from tests.fixtures.app import HTML, get_csrf, post_form

_REGION = re.compile(
    r'<div id="toasts" class="toasts" role="status" aria-live="polite">(.*?)</div>', re.S
)


def _toasts(page: httpx.Response) -> str:
    """What the live region of a page says."""
    match = _REGION.search(page.text)
    assert match, "the page has no live region for toasts"
    return match.group(1)


def _flash_cookie(response: httpx.Response) -> str:
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(FLASH_COOKIE)]
    return cookie


async def test_a_message_survives_the_redirect_and_is_shown_once(signed_in):
    removed = await post_form(signed_in, "/me/avatar/delete")
    assert removed.status_code == 303
    cookie = _flash_cookie(removed).lower()
    assert "httponly" in cookie and "max-age=60" in cookie and "samesite=lax" in cookie

    page = await signed_in.get("/me", headers=HTML)
    assert _toasts(page) == '<p class="toast">Your picture is removed.</p>'
    assert page.headers["cache-control"] == "no-store"  # not kept offline, to be shown again
    again = await signed_in.get("/me", headers=HTML)
    assert _toasts(again) == ""
    assert again.headers["cache-control"] == "private, no-cache"


async def test_the_message_is_in_the_language_of_the_page_it_is_shown_on(signed_in):
    token = await get_csrf(signed_in, "/me")
    await signed_in.post("/me/avatar/delete", data={"csrf_token": token}, headers=HTML)
    # Chosen after the action, the language is that of the next page, and of its message.
    await signed_in.post(
        "/language", data={"csrf_token": token, "language": "it", "next": "/me"}, headers=HTML
    )
    page = await signed_in.get("/me", headers=HTML)
    assert _toasts(page) == (
        '<p class="toast">La tua foto è stata tolta.</p>'
        '<p class="toast">Ora le pagine sono in italiano.</p>'
    )


async def test_htmx_gets_the_message_in_a_header_of_ascii_json(signed_in):
    signed_in.cookies.set("portal_lang", "fr")
    token = await get_csrf(signed_in, "/me")
    saved = await signed_in.post(
        "/me/profile",
        data={"display_name": "Ada", "bio": ""},
        headers={**HTML, "hx-request": "true", "x-csrf-token": token},
    )
    assert saved.status_code == 200
    header = saved.headers["hx-trigger"]
    assert header.isascii() and "\\u00e9" in header
    assert json.loads(header) == {
        "toast": {"message": "Votre profil est enregistré.", "kind": "ok"}
    }
    assert FLASH_COOKIE not in saved.headers.get("set-cookie", "")
    assert "toast" not in saved.text  # the fragment itself does not repeat it


async def test_a_field_error_is_no_toast(signed_in):
    token = await get_csrf(signed_in, "/me")
    refused = await signed_in.post(
        "/me/profile",
        data={"display_name": " ", "bio": ""},
        headers={**HTML, "hx-request": "true", "x-csrf-token": token},
    )
    assert refused.status_code == 422
    assert "hx-trigger" not in refused.headers


async def test_what_people_typed_is_escaped(app: FastAPI, client):
    async def said(request: Request) -> Response:
        toast(request, "A code is on its way to %(address)s.", {"address": "<b>x</b>@example"})
        return redirect(request, "/")

    async def shown(request: Request) -> Response:
        toast(request, "A code is on its way to %(address)s.", {"address": "<i>é</i>"})
        return render(request, "home", {"values": {}}, fragment="form_alert")

    app.add_route("/test/said", said)
    app.add_route("/test/shown", shown)
    await client.get("/test/said", headers=HTML)
    page = await client.get("/", headers=HTML)
    assert _toasts(page) == (
        '<p class="toast">A code is on its way to &lt;b&gt;x&lt;/b&gt;@example.</p>'
    )
    assert "<b>x</b>" not in page.text
    # htmx: JSON, whose text static/toasts.js puts in as text.
    answer = await client.get("/test/shown", headers={**HTML, "hx-request": "true"})
    assert json.loads(answer.headers["hx-trigger"])["toast"]["message"] == (
        "A code is on its way to <i>é</i>."
    )


async def test_a_forged_message_is_not_shown(client):
    forged = json.dumps([["You won a prize: %(url)s", {"url": "https://evil.example"}, "ok"]])
    value = base64.urlsafe_b64encode(forged.encode()).decode() + "." + "0" * 64
    client.cookies.set(FLASH_COOKIE, value)
    page = await client.get("/", headers=HTML)
    assert _toasts(page) == ""
    assert "evil.example" not in page.text
    assert any(c.startswith(f"{FLASH_COOKIE}=") for c in page.headers.get_list("set-cookie"))
