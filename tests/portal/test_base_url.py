"""Without ``PORTAL_BASE_URL``, the links a portal hands out point at the address that
``portal serve`` listens on, whatever its port."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
import zxingcpp
from PIL import Image

from tests.fixtures.app import csrf_from
from tests.fixtures.database import Databases
from tests.fixtures.live import LiveServer, create_user, own_server

EMAIL = "ada@example.org"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def server(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    async with own_server(
        databases,
        tmp_path_factory,
        "base_url",
        base_url=False,
        PORTAL_COOKIE_SECURE="false",
    ) as live:
        yield live


def _qr_text(png: bytes) -> str:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", image.size, "white")
    [found] = zxingcpp.read_barcodes(Image.alpha_composite(white, image).convert("RGB"))
    return found.text


async def test_links_point_at_the_port_served(server: LiveServer) -> None:
    assert not server.url.endswith(":8000")
    number = create_user(server, EMAIL, "Ada", PASSWORD)
    page_url = f"{server.url}/n/{number}"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        signin = await http.get("/signin", headers={"accept": "text/html"})
        signed = await http.post(
            "/signin",
            data={"csrf_token": csrf_from(signin.text), "email": EMAIL, "password": PASSWORD},
            headers={"accept": "text/html"},
        )
        assert signed.status_code == 303, signed.text
        share = await http.get("/me/share", headers={"accept": "text/html"})
        assert f'id="share-link" type="text" value="{page_url}"' in share.text
        assert ":8000" not in share.text

        vcard = await http.get(f"/n/{number}/vcard")
        assert f"URL:{page_url}" in vcard.text.replace("\r\n ", "")
        qr = await http.get(f"/n/{number}/qr.png")
        assert _qr_text(qr.content) == page_url

        token = await http.post(
            "/api/v1/tokens", json={"email": EMAIL, "password": PASSWORD, "name": "test"}
        )
        bearer = {"authorization": f"Bearer {token.json()['token']}"}
        invite = await http.post("/api/v1/invites", headers=bearer)
        assert invite.status_code == 201, invite.text
        assert invite.json()["url"].startswith(f"{server.url}/i/")
