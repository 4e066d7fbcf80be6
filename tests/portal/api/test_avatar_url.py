"""The API gives a picture's address as a full URL, as the vCard does."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.fixtures.app import api_sign_up, api_token


async def test_avatar_url_is_absolute_everywhere_in_the_api(client: httpx.AsyncClient) -> None:
    created = await api_sign_up(client)
    bearer = {"authorization": f"Bearer {await api_token(client)}"}
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(picture, format="PNG")
    uploaded = await client.put(
        "/api/v1/me/avatar",
        files={"file": ("me.png", picture.getvalue(), "image/png")},
        headers=bearer,
    )
    assert uploaded.status_code == 200, uploaded.text
    mine = (await client.get("/api/v1/me", headers=bearer)).json()["avatar_url"]
    card = (await client.get(f"/api/v1/numbers/{created['number']}")).json()["avatar_url"]
    assert mine == card
    assert card.startswith(f"https://portal.test/n/{created['number']}/avatar?v=")
    served = await client.get(card)
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
