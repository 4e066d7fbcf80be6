"""A post's pictures at signed addresses that expire, for the networks that fetch them: what
the connectors are given (``Context.media_url``) opens the picture for anyone, for an hour,
while the post is out or on its way, and nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Upload
from portal.domain.posts import compose, public_pictures
from portal.storage.models import User
from portal.storage.posts import Post, PostMedia
from tests.fixtures.app import make_settings
from tests.fixtures.images import encode

JPEG = encode(Image.new("RGB", (32, 24), "navy"), "JPEG")


async def _post(db: AsyncSession, state: str = "published", data: bytes = JPEG) -> Post:
    user = (await db.scalars(select(User))).first()
    assert user is not None
    post = Post(id=compose.new_id(), user_id=user.id, text="The engine", state=state)
    db.add(post)
    await db.flush()
    db.add(
        PostMedia(
            id=compose.new_id(),
            user_id=user.id,
            post_id=post.id,
            mime_type="image/jpeg",
            width=32,
            height=24,
            size=len(data),
            data=data,
        )
    )
    await db.commit()
    return post


async def _address(app: FastAPI, data: bytes = JPEG) -> str:
    media_url = app.state.links.context.media_url
    assert media_url is not None
    url: str = await media_url(Upload(data, "image/jpeg"))
    return url


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://portal.test", url
    return parts.path


async def test_the_address_opens_the_picture_for_anyone(signed_in, app, db):
    await _post(db)
    url = await _address(app)
    assert url.startswith("https://portal.test/pictures/")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as anyone:
        response = await anyone.get(_path(url))
    assert response.status_code == 200
    assert response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_address_names_nothing_of_the_post_or_its_author(signed_in, app, db):
    post = await _post(db)
    path = _path(await _address(app))
    media = (await db.scalars(select(PostMedia))).one()
    user = (await db.scalars(select(User))).one()
    for private in (post.id, media.id, user.number, str(user.id) + "."):
        assert private not in path.removeprefix("/pictures/")


@pytest.mark.parametrize("state", ["published", "scheduled"])
async def test_a_post_out_or_on_its_way_shows_its_picture(signed_in, app, db, state):
    await _post(db, state)
    assert (await signed_in.get(_path(await _address(app)))).status_code == 200


@pytest.mark.parametrize("state", ["draft", "deleted"])
async def test_a_draft_or_a_deleted_post_shows_nothing(signed_in, app, db, state):
    await _post(db, state)
    response = await signed_in.get(_path(await _address(app)), headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "This picture is not available." in response.text


async def test_an_address_altered_or_run_out_shows_nothing(signed_in, app, db, monkeypatch):
    await _post(db)
    path = _path(await _address(app))
    size, digest, expires, signature = path.removeprefix("/pictures/").split(".")
    other = "A" if signature[0] != "A" else "B"
    for altered in (
        f"{size}.{digest}.{int(expires) + 3600}.{signature}",  # kept longer
        f"{int(size) + 1}.{digest}.{expires}.{signature}",
        f"{size}.{digest}.{expires}.{other}{signature[1:]}",
        f"{size}.{digest}.{expires}",
        "not-a-token",
    ):
        assert (await signed_in.get(f"/pictures/{altered}")).status_code == 404, altered
    # An hour later the address no longer works.
    now = public_pictures.time.time()
    monkeypatch.setattr(public_pictures.time, "time", lambda: now + public_pictures.LIFETIME)
    assert (await signed_in.get(path)).status_code == 404


async def test_another_portals_address_shows_nothing(signed_in, app, db):
    await _post(db)
    stranger = public_pictures.token(JPEG, "another portal's secret key, 32 characters")
    assert (await signed_in.get(f"/pictures/{stranger}")).status_code == 404


async def test_a_picture_of_the_same_length_is_told_apart_by_its_bytes(signed_in, app, db):
    await _post(db)
    twin = JPEG[:-3] + b"\x00\xff\xd9"  # as long, other bytes
    assert (await signed_in.get(_path(await _address(app, twin)))).status_code == 404
    await _post(db, data=twin)
    response = await signed_in.get(_path(await _address(app, twin)))
    assert response.status_code == 200 and response.content == twin


async def test_fetching_is_counted_per_client_address(signed_in, app, db):
    await _post(db)
    path = _path(await _address(app))
    statuses = [(await signed_in.get(path)).status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429


def test_a_portal_without_a_public_https_address_gives_no_addresses():
    from portal.deps import link_services

    context = link_services(make_settings(base_url="http://127.0.0.1:8000")).context
    assert context.media_url is None
