"""Verifying an account by a ``rel="me"`` link back from its public page, through the routes.

Public pages are served with respx, which answers in place of the connection pool, so the
portal's guarded client (portal/net.py) is not in the way there. Private addresses are tried
for real, with no respx in between, against a local server that counts the connections it
gets: the guard must refuse them before any connection is made.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.storage.models import LinkedAccount, User
from tests.fixtures.app import HTML, api_sign_up, api_token, get_csrf, post_form, web_sign_up
from tests.fixtures.peers import free_port

SITE = "https://ada.example.org/"
PORTAL = "https://portal.test"


@pytest.fixture
async def counting_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server on 127.0.0.1 that would answer with a page linking anywhere, and keeps the
    first bytes of every connection it gets."""
    port = free_port()
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(100))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    yield port, seen
    server.close()
    await server.wait_closed()


async def _mine(db: AsyncSession, email: str = "ada@example.org") -> str:
    user = (await db.scalars(select(User).where(User.email == email))).one()
    return f"{PORTAL}/n/{user.number}"


async def _add(client: httpx.AsyncClient, db: AsyncSession, handle: str = SITE) -> LinkedAccount:
    response = await post_form(client, "/me/accounts", network="website", handle=handle)
    assert response.status_code == 303, response.text
    db.expire_all()
    account: LinkedAccount = (await db.scalars(select(LinkedAccount))).one()
    assert account.status == "unverified"
    return account


async def _verify(
    client: httpx.AsyncClient, account_id: int, headers: dict[str, str] | None = None
) -> httpx.Response:
    token = await get_csrf(client, "/me")
    return await client.post(
        f"/me/accounts/{account_id}/verify-link",
        data={"csrf_token": token},
        headers={**HTML, **(headers or {})},
    )


async def _status(db: AsyncSession) -> tuple[str, str | None]:
    db.expire_all()
    account = (await db.scalars(select(LinkedAccount))).one()
    return account.status, account.verified_by


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><title>Ada</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda me: _page(f'<a rel="me" href="{me}">my number</a>'), id="a"),
        pytest.param(lambda me: _page("", f'<link rel="me" href="{me}">'), id="link-in-head"),
        pytest.param(
            lambda me: _page(f'<a href="{me}" rel="nofollow me noopener">Portal</a>'), id="tokens"
        ),
        pytest.param(lambda me: _page(f'<a rel="Me" href="{me}/">x</a>'), id="case-and-slash"),
        pytest.param(
            lambda me: _page(f"<a rel=me href={me.replace('https:', 'http:')}>x</a>"),
            id="http-unquoted",
        ),
        pytest.param(
            lambda me: _page(
                f'<a rel="me" href="{me.removeprefix(PORTAL)}">x</a>', f'<base href="{PORTAL}/">'
            ),
            id="relative-to-base",
        ),
    ],
)
async def test_a_link_back_verifies_the_account(signed_in, db, page):
    account = await _add(signed_in, db)
    me = await _mine(db)
    with respx.mock:
        route = respx.get(SITE).respond(200, html=page(me))
        response = await _verify(signed_in, account.id)
    assert response.status_code == 303, response.text
    assert route.call_count == 1
    assert await _status(db) == ("verified", "link")
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert "verified by link" in listing.text


async def test_htmx_gets_the_list_with_the_notice(signed_in, db):
    account = await _add(signed_in, db)
    me = await _mine(db)
    with respx.mock:
        respx.get(SITE).respond(200, html=_page(f'<a rel="me" href="{me}">x</a>'))
        response = await _verify(signed_in, account.id, {"hx-request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="accounts"')
    assert json.loads(response.headers["hx-trigger"])["toast"]["message"] == (
        "The account is verified by link."
    )
    assert "verified by link" in response.text


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda me, other: _page("<p>Hello, I am Ada.</p>"), id="no-link"),
        pytest.param(lambda me, other: _page(f'<a href="{me}">x</a>'), id="not-rel-me"),
        pytest.param(lambda me, other: _page(f'<a rel="me" href="{other}">x</a>'), id="other"),
        pytest.param(
            lambda me, other: _page(f'<a rel="me" href="{me.replace(PORTAL, "https://e.vil")}">'),
            id="other-host",
        ),
        pytest.param(lambda me, other: _page(f'<a rel="me">{me}</a>'), id="no-href"),
        pytest.param(lambda me, other: _page(f"<!-- <a rel='me' href='{me}'> -->"), id="comment"),
    ],
)
async def test_a_page_without_a_link_back_is_refused(client, db, page):
    await web_sign_up(client, email="bob@example.org")
    other = await _mine(db, "bob@example.org")
    client.cookies.clear()
    await web_sign_up(client)
    account = await _add(client, db)
    me = await _mine(db)
    with respx.mock:
        respx.get(SITE).respond(200, html=page(me, other))
        response = await _verify(client, account.id)
    assert response.status_code == 422
    assert str(escape(f'Add <a rel="me" href="{me}"> to it')) in response.text
    assert await _status(db) == ("unverified", None)


def _redirect(to: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": to})


async def test_redirects_are_followed_and_checked_again(signed_in, db):
    account = await _add(signed_in, db)
    me = await _mine(db)
    with respx.mock:
        respx.get(SITE).mock(return_value=_redirect("/about/"))
        respx.get(f"{SITE}about/").mock(return_value=_redirect("https://www.example.org/ada"))
        respx.get("https://www.example.org/ada").respond(
            200, html=_page(f'<a rel="me" href="{me.removeprefix(PORTAL)}">x</a>')
        )
        response = await _verify(signed_in, account.id)
    # The last page's relative link is read against the last page, not against portal.test.
    assert response.status_code == 422
    with respx.mock:
        respx.get(SITE).mock(return_value=_redirect("/about/"))
        respx.get(f"{SITE}about/").respond(200, html=_page(f'<a rel="me" href="{me}">x</a>'))
        response = await _verify(signed_in, account.id)
    assert response.status_code == 303
    assert await _status(db) == ("verified", "link")


def _huge() -> httpx.Response:
    return httpx.Response(200, html=_page("x" * (2 * 1024 * 1024)))


def _huge_undeclared() -> httpx.Response:
    chunks = [b"<html><body>", *([b"x" * 65536] * 40)]
    return httpx.Response(200, headers={"content-type": "text/html"}, stream=_Chunks(chunks))


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        pytest.param(_huge, 422, "larger than 1 MB", id="too-large"),
        pytest.param(_huge_undeclared, 422, "larger than 1 MB", id="too-large-streamed"),
        pytest.param(
            lambda: httpx.Response(200, json={"rel": "me"}), 422, "is not HTML", id="json"
        ),
        pytest.param(
            lambda: httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"}),
            422,
            "is not HTML",
            id="image",
        ),
        pytest.param(lambda: httpx.Response(404, html="gone"), 422, "answered 404", id="404"),
        pytest.param(lambda: httpx.Response(503), 502, "the page answered 503", id="503"),
        pytest.param(lambda: _redirect("ftp://ada.example.org/"), 422, "not a web page", id="ftp"),
        pytest.param(
            lambda: _redirect("javascript:alert(1)"), 422, "not a web page", id="javascript"
        ),
        pytest.param(lambda: _redirect("mailto:ada@example.org"), 422, "not a web page", id="mail"),
        pytest.param(
            lambda: httpx.ReadTimeout("timed out"), 502, "did not answer in time", id="timeout"
        ),
        pytest.param(
            lambda: httpx.ConnectError("refused"), 502, "could not be reached", id="unreachable"
        ),
    ],
)
async def test_a_page_that_cannot_be_read_is_refused_clearly(
    signed_in, db, answer, status, message
):
    account = await _add(signed_in, db)
    with respx.mock:
        respx.get(SITE).mock(side_effect=[answer()])
        response = await _verify(signed_in, account.id)
    assert response.status_code == status, response.text
    assert message in response.text
    assert await _status(db) == ("unverified", None)


async def test_endless_redirects_are_refused(signed_in, db):
    account = await _add(signed_in, db)
    with respx.mock:
        route = respx.get(url__startswith=SITE)
        route.side_effect = [_redirect(f"{SITE}{n}") for n in range(1, 10)]
        response = await _verify(signed_in, account.id)
    assert response.status_code == 422
    assert "redirects too many times" in response.text
    assert route.call_count == 4
    assert await _status(db) == ("unverified", None)


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1/", "http://10.1.2.3/", "http://[::1]/", "http://router.local/"]
)
async def test_a_private_address_cannot_even_be_added(signed_in, db, address):
    response = await post_form(signed_in, "/me/accounts", network="website", handle=address)
    assert response.status_code == 422
    assert "private network or this computer" in response.text
    assert (await db.scalars(select(LinkedAccount))).all() == []


async def _stored(db: AsyncSession, handle: str) -> LinkedAccount:
    """An account whose address was accepted before (an older version, a changed DNS)."""
    user = (await db.scalars(select(User))).one()
    account = LinkedAccount(
        user_id=user.id, network="website", handle=handle, status="unverified", position=0
    )
    db.add(account)
    await db.commit()
    return account


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1", "169.254.169.254"]
)
async def test_a_stored_private_address_is_not_fetched(signed_in, db, counting_server, host):
    port, seen = counting_server
    account = await _stored(db, f"http://{host}:{port}/")
    response = await _verify(signed_in, account.id)
    assert response.status_code == 502, response.text
    assert "could not be reached" in response.text  # as any page that cannot be reached
    assert seen == []
    assert await _status(db) == ("unverified", None)


@pytest.fixture
def resolve_to(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make one name resolve to the given address, as a hostile DNS server would."""

    def install(name: str, address: str) -> None:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host == name:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                return [(family, socket.SOCK_STREAM, 6, "", (address, int(port)))]
            return await real(host, port, *args, **kwargs)

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)

    return install


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1"])
async def test_a_name_that_resolves_to_a_private_address_is_not_fetched(
    signed_in, db, counting_server, resolve_to, address
):
    port, seen = counting_server
    account = await _add(signed_in, db, f"http://intranet.example.org:{port}/")
    resolve_to("intranet.example.org", address)
    response = await _verify(signed_in, account.id)
    assert response.status_code == 502, response.text
    assert "could not be reached" in response.text  # as any page that cannot be reached
    assert seen == []
    assert await _status(db) == ("unverified", None)


async def test_a_redirect_to_a_private_address_is_not_followed(signed_in, db, counting_server):
    port, seen = counting_server
    account = await _add(signed_in, db)
    with respx.mock:
        respx.get(SITE).mock(return_value=_redirect(f"http://127.0.0.1:{port}/"))
        respx.route(host="127.0.0.1").pass_through()
        response = await _verify(signed_in, account.id)
    assert response.status_code == 502, response.text
    assert "could not be reached" in response.text  # as any page that cannot be reached
    assert seen == []


async def test_a_network_without_a_public_page_cannot_be_verified_by_link(signed_in, db):
    response = await post_form(signed_in, "/me/accounts", network="viber", handle="+44 7400 123456")
    assert response.status_code == 303, response.text
    account = (await db.scalars(select(LinkedAccount))).one()
    with respx.mock:
        response = await _verify(signed_in, account.id)
    assert response.status_code == 422
    assert "no public page" in response.text


async def test_the_api_verifies_by_link_too(client, db):
    await api_sign_up(client)
    token = await api_token(client)
    auth = {"authorization": f"Bearer {token}"}
    added = await client.post(
        "/api/v1/me/accounts", json={"network": "website", "handle": SITE}, headers=auth
    )
    assert added.status_code == 201, added.text
    account_id = added.json()["id"]
    me = await _mine(db)
    with respx.mock:
        respx.get(SITE).respond(200, html=_page("nothing here"))
        refused = await client.post(f"/api/v1/me/accounts/{account_id}/verify-link", headers=auth)
        assert refused.status_code == 422
        assert f'<a rel="me" href="{me}">' in refused.json()["detail"]
        respx.get(SITE).respond(200, html=_page(f'<a rel="me" href="{me}">x</a>'))
        verified = await client.post(f"/api/v1/me/accounts/{account_id}/verify-link", headers=auth)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    assert await _status(db) == ("verified", "link")
